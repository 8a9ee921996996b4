// Package processstart records when the process started, as early as a Go
// program can: it imports nothing but time, so the Go runtime initialises it
// before the heavier packages of a Lambda function (the AWS SDK, the HTTP
// adapter), whose initialisation then counts in init_ms as it counts in
// Lambda's Init Duration.
package processstart

import "time"

var start = time.Now()

// Time is when the process started, to within the Go runtime's own start-up.
func Time() time.Time { return start }
