package awsemu_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mcaws "github.com/mcloud/mcloud/integrations/aws"
	"github.com/mcloud/mcloud/integrations/aws/awsemu"
)

const (
	account = "123456789012"
	role    = "arn:aws:iam::123456789012:role/mcloud"
	extID   = "emu-ext-id-secret"
	secret  = "emu-base-secret"
)

func start(t *testing.T, opts awsemu.Options) (*awsemu.Server, *mcaws.Account) {
	t.Helper()
	emu, err := awsemu.Start("", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close() })
	if err := emu.AddAccount(awsemu.Account{ID: account, RoleARN: role, ExternalID: extID}); err != nil {
		t.Fatal(err)
	}
	client, err := mcaws.New(context.Background(), mcaws.Options{
		Region: "us-east-1", Endpoint: emu.URL(),
		Credentials: &mcaws.StaticCredentials{AccessKeyID: "AKIAEMUBASE", SecretAccessKey: secret},
	})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := client.Account(mcaws.CustomerAccount{AccountID: account, RoleARN: role, ExternalID: extID, Region: "us-east-1", DRRegion: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	return emu, acct
}

func TestBulkSeedingIsCheap(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	if err := emu.CreateBucket(awsemu.Bucket{Name: "bulk", AccountID: account}); err != nil {
		t.Fatal(err)
	}
	objs := make([]awsemu.Object, 20_000)
	for i := range objs {
		objs[i] = awsemu.Object{Key: fmt.Sprintf("k/%06d", i), StorageClass: "GLACIER", Size: 5 << 30}
	}
	began := time.Now()
	if err := emu.PutObjects("bulk", objs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d synthetic 5 GiB objects in %s", len(objs), time.Since(began))
	listed, err := acct.ListObjects(context.Background(), "bulk", "k/")
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != len(objs) || listed[0].Size != 5<<30 || listed[0].StorageClass != "GLACIER" {
		t.Fatalf("listed %d objects, first %+v", len(listed), listed[0])
	}
	if emu.Calls("s3:ListObjectsV2") != 20 {
		t.Errorf("%d ListObjectsV2 pages, want 20 of 1000", emu.Calls("s3:ListObjectsV2"))
	}
}

func TestRegionComesFromTheSignature(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	east := emu.AddVolume(awsemu.Volume{AccountID: account, Region: "us-east-1"})
	west := emu.AddVolume(awsemu.Volume{AccountID: account, Region: "us-west-2"})
	ctx := context.Background()
	for region, want := range map[string]string{"us-east-1": east, "us-west-2": west} {
		vols, err := acct.FindVolumes(ctx, region, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(vols) != 1 || vols[0].ID != want {
			t.Errorf("%s: %+v, want only %s", region, vols, want)
		}
	}
}

func TestLogsCarryNoCredentials(t *testing.T) {
	var (
		mu    sync.Mutex
		lines []string
	)
	emu, acct := start(t, awsemu.Options{Logf: func(f string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(f, args...))
		mu.Unlock()
	}})
	if err := emu.CreateBucket(awsemu.Bucket{Name: "logs"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := acct.PutObject(ctx, "logs", "a.txt", []byte("hello"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if _, err := acct.HeadObject(ctx, "logs", "a.txt"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lines, "\n")
	for _, want := range []string{"sts AssumeRole", "s3 PutObject bucket=logs", "account=" + account} {
		if !strings.Contains(all, want) {
			t.Errorf("log lacks %q:\n%s", want, all)
		}
	}
	for _, bad := range []string{secret, extID, "ASIA"} {
		if strings.Contains(all, bad) {
			t.Errorf("log contains %q:\n%s", bad, all)
		}
	}
}

func TestSyntheticObjectsStreamZeros(t *testing.T) {
	emu, acct := start(t, awsemu.Options{})
	if err := emu.CreateBucket(awsemu.Bucket{Name: "big"}); err != nil {
		t.Fatal(err)
	}
	if err := emu.PutObjects("big", awsemu.Object{Key: "disk.img", Size: 3 << 20}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	url, err := acct.PresignGet(ctx, "big", "disk.img", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(rng string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	status, b := fetch("")
	if status != http.StatusOK || len(b) != 3<<20 || !bytes.Equal(b, make([]byte, 3<<20)) {
		t.Fatalf("full GET: %d, %d bytes", status, len(b))
	}
	status, b = fetch("bytes=100-109")
	if status != http.StatusPartialContent || len(b) != 10 {
		t.Fatalf("ranged GET: %d, %d bytes", status, len(b))
	}
}
