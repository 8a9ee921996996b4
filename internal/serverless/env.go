package serverless

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"flashsale/internal/payment"
)

// Environment variables read by the functions (set by template.yaml).
const (
	EnvTopicARN       = "ORDERS_TOPIC_ARN"
	EnvPaymentDelay   = "PAYMENT_DELAY"
	EnvDeclineRate    = "PAYMENT_DECLINE_RATE"
	EnvPaymentSeed    = "PAYMENT_SEED"
	EnvRequestTimeout = "REQUEST_TIMEOUT"
	EnvPublishTimeout = "PUBLISH_TIMEOUT"
	EnvLogLevel       = "AWS_LAMBDA_LOG_LEVEL"
)

// Defaults of the API function's timeouts.
const (
	// DefaultRequestTimeout bounds the sync path when REQUEST_TIMEOUT is
	// unset: as template.yaml sets it, below the function's 29 s timeout
	// (itself below API Gateway's 30 s), so the 504 is the function's own.
	DefaultRequestTimeout = 25 * time.Second
	// DefaultPublishTimeout bounds one SNS publish when PUBLISH_TIMEOUT is
	// unset.
	DefaultPublishTimeout = 5 * time.Second
)

// APIEnv is the API function's configuration besides the payment's.
type APIEnv struct {
	// TopicARN is the SNS topic of the async path (ORDERS_TOPIC_ARN).
	TopicARN string
	// RequestTimeout bounds the sync path (REQUEST_TIMEOUT).
	RequestTimeout time.Duration
	// PublishTimeout bounds one publish of the async path (PUBLISH_TIMEOUT).
	PublishTimeout time.Duration
}

// APIFromEnv reads ORDERS_TOPIC_ARN (required), REQUEST_TIMEOUT
// (DefaultRequestTimeout when unset) and PUBLISH_TIMEOUT
// (DefaultPublishTimeout when unset); both timeouts must be positive. getenv
// is os.Getenv in the function.
func APIFromEnv(getenv func(string) string) (APIEnv, error) {
	topic, err := Required(getenv, EnvTopicARN)
	if err != nil {
		return APIEnv{}, err
	}
	env := APIEnv{TopicARN: topic}
	for _, v := range []struct {
		name string
		def  time.Duration
		dst  *time.Duration
	}{
		{EnvRequestTimeout, DefaultRequestTimeout, &env.RequestTimeout},
		{EnvPublishTimeout, DefaultPublishTimeout, &env.PublishTimeout},
	} {
		d, err := Duration(getenv, v.name, v.def)
		if err != nil {
			return APIEnv{}, err
		}
		if d <= 0 {
			return APIEnv{}, fmt.Errorf("%s=%q: must be positive", v.name, getenv(v.name))
		}
		*v.dst = d
	}
	return env, nil
}

// MaxPaymentDelay bounds PAYMENT_DELAY from above (excluded), as the
// template's PaymentDelay pattern does: a payment must end well inside the
// functions' timeouts.
const MaxPaymentDelay = 20 * time.Second

// PaymentFromEnv reads the payment simulation's settings: PAYMENT_DELAY (a
// Go duration, payment.DefaultDelay when unset), PAYMENT_DECLINE_RATE (0 to
// 1, 0 when unset) and PAYMENT_SEED (an integer, 0 when unset). getenv is
// os.Getenv in the functions.
func PaymentFromEnv(getenv func(string) string) (payment.Config, error) {
	delay, err := Duration(getenv, EnvPaymentDelay, payment.DefaultDelay)
	if err != nil {
		return payment.Config{}, err
	}
	if delay <= 0 {
		return payment.Config{}, fmt.Errorf("%s=%s: must be positive", EnvPaymentDelay, getenv(EnvPaymentDelay))
	}
	if delay >= MaxPaymentDelay {
		return payment.Config{}, fmt.Errorf("%s=%s: must be below %v (the processor's timeout is 30 s, and the API's sync path answers 504 at 25 s)",
			EnvPaymentDelay, getenv(EnvPaymentDelay), MaxPaymentDelay)
	}
	cfg := payment.Config{Delay: delay}
	if s := strings.TrimSpace(getenv(EnvDeclineRate)); s != "" {
		r, err := strconv.ParseFloat(s, 64)
		if err != nil || r < 0 || r > 1 {
			return payment.Config{}, fmt.Errorf("%s=%q: want a number from 0 to 1", EnvDeclineRate, s)
		}
		cfg.DeclineRate = r
	}
	if s := strings.TrimSpace(getenv(EnvPaymentSeed)); s != "" {
		seed, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return payment.Config{}, fmt.Errorf("%s=%q: want an integer: %w", EnvPaymentSeed, s, err)
		}
		cfg.Seed = seed
	}
	return cfg, nil
}

// Duration reads a Go duration ("3s", "500ms") from the variable name, or
// def when it is unset or blank.
func Duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: want a duration such as 3s or 500ms: %w", name, s, err)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s=%q: must not be negative", name, s)
	}
	return d, nil
}

// Required reads a variable that must be set.
func Required(getenv func(string) string, name string) (string, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return s, nil
}
