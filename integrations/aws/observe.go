package aws

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// ObserveFunc hears of every AWS operation once it is over, retries
// included: the service ("S3", "STS"), the operation ("RestoreObject"),
// how long it took, and "" or the error's code (see Code; "error" when it
// has none).
type ObserveFunc func(service, operation, code string, took time.Duration)

// observeCalls times each operation from the outside of its stack, so the
// time includes signing, retries and credential refreshes. Presigning runs
// the same stack without sending anything: it is skipped, or every
// download link would count as a sub-millisecond GetObject.
func observeCalls(observe ObserveFunc) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		if len(s.Deserialize.List()) == 0 {
			return nil // a presign stack: nothing is sent, nothing to deserialize
		}
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("mcloudObserveCall",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				start := time.Now()
				out, md, err := next.HandleInitialize(ctx, in)
				code := ""
				if err != nil {
					if code = Code(err); code == "" {
						code = "error"
					}
				}
				observe(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx), code, time.Since(start))
				return out, md, err
			}), middleware.Before)
	}
}
