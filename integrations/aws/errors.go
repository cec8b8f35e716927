package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	smithy "github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Errors this package returns itself, to be matched with errors.Is.
var (
	// ErrWrongAccount: the role resolved to a different account than the
	// one on file, so acting on it could touch another customer.
	ErrWrongAccount = errors.New("assumed role belongs to a different account")
	// ErrWaitTimeout: a waiter gave up before the resource was ready.
	ErrWaitTimeout = errors.New("timed out waiting for AWS")
	// ErrNoExpeditedForDeepArchive: S3 refused an Expedited restore of a
	// DEEP_ARCHIVE object, which only Standard and Bulk can restore.
	ErrNoExpeditedForDeepArchive = errors.New("expedited retrieval is not available for DEEP_ARCHIVE")
	// ErrNoCredentials: mcloud has no credentials of its own (environment,
	// profile, instance or task role) to assume a customer's role with.
	ErrNoCredentials = errors.New("no AWS credentials")
)

// NoCredentialsError is ErrNoCredentials for one account, with the SDK's
// reason (for logs).
type NoCredentialsError struct {
	Account string
	Err     error
}

func (e *NoCredentialsError) Error() string {
	return fmt.Sprintf("no AWS credentials for %s: %v", e.Account, e.Err)
}

func (e *NoCredentialsError) Unwrap() []error { return []error{ErrNoCredentials, e.Err} }

// CodeEndpointUnreachable is reported by Code when no HTTP response was
// received at all (DNS, refused connection, TLS, timeout on connect).
const CodeEndpointUnreachable = "EndpointUnreachable"

// Classification is what the bot needs to react to an error: one sentence
// for the Slack user, the code for metrics and decisions, whether retrying
// later may help, and the full chain for logs.
type Classification struct {
	Code      string // AWS error code, CodeEndpointUnreachable, or ""
	Message   string // one user-facing sentence, no internals
	Retryable bool
	Detail    string // err.Error(): request ids, operation, AWS message; for logs only
}

// Code returns the AWS error code in err's chain, CodeEndpointUnreachable
// when AWS could not be reached, or "".
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if unreachable(err) {
		return CodeEndpointUnreachable
	}
	return ""
}

// IsCode reports whether err carries one of the AWS error codes.
func IsCode(err error, codes ...string) bool {
	c := Code(err)
	for _, want := range codes {
		if c != "" && c == want {
			return true
		}
	}
	return false
}

// Describe returns the one sentence to show a user for err.
func Describe(err error) string { return Classify(err).Message }

func unreachable(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return false
	}
	// The SDK wraps transport failures (after its retries) in
	// RequestSendError; a bare net.OpError covers callers that bypass it.
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// assumeRoleFailed reports whether err happened while getting the
// customer's credentials, where an AccessDenied means the trust policy or
// external id, not the action, is wrong.
func assumeRoleFailed(err error) bool {
	for e := err; e != nil; {
		var op *smithy.OperationError
		if !errors.As(e, &op) {
			return false
		}
		if op.ServiceID == "STS" && op.OperationName == "AssumeRole" {
			return true
		}
		e = op.Err
	}
	return false
}

var messages = map[string]string{
	"AccessDenied":                "AWS denied access: the mcloud role in this customer account is not allowed to do this.",
	"AccessDeniedException":       "AWS denied access: the mcloud role in this customer account is not allowed to do this.",
	"UnauthorizedOperation":       "AWS denied access: the mcloud role in this customer account is not allowed to do this.",
	"AuthFailure":                 "AWS rejected the credentials mcloud used for this account.",
	"InvalidClientTokenId":        "AWS did not recognise the credentials mcloud used; they may have been revoked.",
	"InvalidAccessKeyId":          "AWS did not recognise the credentials mcloud used; they may have been revoked.",
	"SignatureDoesNotMatch":       "AWS rejected the request signature; check mcloud's base credentials and the machine clock.",
	"ExpiredToken":                "The AWS session expired; mcloud will fetch fresh credentials on the next attempt.",
	"ExpiredTokenException":       "The AWS session expired; mcloud will fetch fresh credentials on the next attempt.",
	"RequestExpired":              "The AWS session expired; mcloud will fetch fresh credentials on the next attempt.",
	"NoSuchBucket":                "That S3 bucket does not exist.",
	"NoSuchKey":                   "That S3 object does not exist.",
	"NotFound":                    "That S3 object does not exist.",
	"InvalidObjectState":          "That object is in Glacier or Deep Archive; it has to be restored before it can be read.",
	"RestoreAlreadyInProgress":    "A restore of that object is already in progress.",
	"Throttling":                  "AWS is throttling requests right now; mcloud will retry more slowly.",
	"ThrottlingException":         "AWS is throttling requests right now; mcloud will retry more slowly.",
	"RequestLimitExceeded":        "AWS is throttling requests right now; mcloud will retry more slowly.",
	"SlowDown":                    "AWS is throttling requests right now; mcloud will retry more slowly.",
	"TooManyRequestsException":    "AWS is throttling requests right now; mcloud will retry more slowly.",
	"InvalidSnapshot.NotFound":    "That EBS snapshot does not exist in this account and region.",
	"InvalidVolume.NotFound":      "That EBS volume does not exist in this account and region.",
	"IncorrectState":              "That EBS snapshot is not completed yet, so it cannot be used for this.",
	"DBSnapshotNotFound":          "That RDS snapshot does not exist in this account and region.",
	"DBInstanceNotFound":          "That RDS database does not exist in this account and region.",
	"DBSnapshotAlreadyExists":     "An RDS snapshot with that name already exists.",
	"InvalidDBSnapshotState":      "That RDS snapshot is not available yet, so it cannot be used for this.",
	"SnapshotQuotaExceeded":       "The account has reached its RDS snapshot quota.",
	"ExportTaskNotFound":          "That RDS export task does not exist in this account and region.",
	"ExportTaskAlreadyExists":     "An RDS export task with that name already exists.",
	"InvalidExportSourceState":    "That RDS snapshot is not available yet, so it cannot be exported.",
	"InvalidS3BucketFault":        "The S3 bucket for the export does not exist or RDS cannot write to it.",
	"InvalidIAMRoleFault":         "The IAM role for the export is missing or RDS cannot use it.",
	"KMSKeyNotAccessibleFault":    "The KMS key for the export cannot be used by RDS.",
	"InternalError":               "AWS had an internal error; trying again usually works.",
	"ServiceUnavailable":          "AWS is temporarily unavailable; trying again usually works.",
	"Unavailable":                 "AWS is temporarily unavailable; trying again usually works.",
	CodeEndpointUnreachable:       "mcloud could not reach AWS (network problem or wrong endpoint).",
	"InvalidParameterValue":       "",
	"InvalidParameterCombination": "",
	"InvalidArgument":             "",
	"MalformedXML":                "",
	"ValidationError":             "",
}

var retryable = map[string]bool{
	"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true, "SlowDown": true,
	"TooManyRequestsException": true, "InternalError": true, "ServiceUnavailable": true, "Unavailable": true,
	"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true, CodeEndpointUnreachable: true,
}

// Classify maps err to a Classification. The AWS message is only repeated
// to the user for validation errors, where it is the useful part and names
// parameters, not secrets.
func Classify(err error) Classification {
	if err == nil {
		return Classification{}
	}
	c := Classification{Code: Code(err), Detail: err.Error()}
	c.Retryable = retryable[c.Code]
	var noCreds *NoCredentialsError
	switch {
	case assumeRoleFailed(err) && (c.Code == "AccessDenied" || c.Code == "AccessDeniedException"):
		c.Message = "mcloud could not assume its role in this customer account: check the role's trust policy and the external ID on file."
		return c
	case errors.As(err, &noCreds):
		// Before the transport checks: without credentials the chain's last
		// source (instance metadata) often fails as a network error.
		c.Code = "NoCredentials"
		c.Message = fmt.Sprintf("No AWS credentials for %s: mcloud found none where it runs (AWS_* environment variables, a profile, an instance or task role) to assume the customer's role with; ask the DevOps team.", orAccount(noCreds.Account))
		c.Retryable = false
		return c
	case errors.Is(err, ErrWrongAccount):
		c.Message = "The mcloud role on file belongs to a different AWS account than this customer's; mcloud stopped to avoid touching the wrong account."
		return c
	case errors.Is(err, ErrNoExpeditedForDeepArchive):
		c.Message = "Expedited retrieval is not available for DEEP_ARCHIVE objects; use Standard or Bulk."
		return c
	case errors.Is(err, ErrWaitTimeout):
		c.Message = "AWS did not finish in time; the job can be resumed later."
		c.Retryable = true
		return c
	case errors.Is(err, context.DeadlineExceeded):
		c.Message = "The operation ran out of time before AWS answered."
		c.Retryable = true
		return c
	case errors.Is(err, context.Canceled):
		c.Message = "The operation was cancelled."
		return c
	}
	if msg, ok := messages[c.Code]; ok {
		if msg == "" {
			msg = "AWS rejected the request as invalid: " + awsMessage(err)
		}
		c.Message = msg
		return c
	}
	if c.Code != "" {
		c.Message = "AWS returned an error (" + c.Code + ")."
		return c
	}
	c.Message = "Something went wrong talking to AWS; the details are in the logs."
	return c
}

func awsMessage(err error) string {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorMessage() == "" {
		return "no detail given."
	}
	m := strings.TrimSpace(apiErr.ErrorMessage())
	if !strings.HasSuffix(m, ".") {
		m += "."
	}
	return m
}

func orAccount(name string) string {
	if name == "" {
		return "this account"
	}
	return name
}
