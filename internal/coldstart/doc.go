// Package coldstart reads Lambda and worker-service logs and reports cold
// starts: how many invocations started a new execution environment, how
// long the initialisation took, what share of the invocation it added, and
// how long the function had been idle before each one, so that cold starts
// after idle time can be told from those caused by scaling out.
//
// A [Parser] accepts, line by line or event by event, any mix of:
//
//   - text REPORT lines, as printed by the Lambda runtime interface emulator
//     (aws-lambda-rie, what `sam local invoke` and `make invoke` run), by
//     `aws logs tail` (detailed and short formats) and by `sam logs`:
//     "REPORT RequestId: ID\tInit Duration: 68.91 ms\tDuration: 3003.12 ms\t...";
//   - CloudWatch's JSON log format: `platform.report` records whose
//     record.metrics carry durationMs and, on a cold start, initDurationMs;
//   - our own structured (log/slog) records, JSON or key=value text: the
//     processor Lambda logs `cold_start` (and `init_ms` on the first
//     invocation of an execution environment) with its request id, and its
//     name in `function`; the worker service logs one startup record with
//     `init_ms` (and `cold_start`, and its name in `function`) but no
//     request id, which is what makes it a service start;
//   - CloudWatch Logs events as FilterLogEvents returns them (read with
//     [ReadLogGroup], or dumped by `sam logs --output json`).
//
// Lines in no known format (START/END lines, the emulator's own log, other
// application logs) are counted as "other" and skipped; lines that look like
// one of the formats but cannot be read are counted as malformed and
// skipped. Neither is ever fatal.
//
// [Analyze] turns what was parsed into one [Summary] per function and per
// service, which [WriteText] and [WriteCSV] print (and textout.WriteJSON as JSON).
package coldstart
