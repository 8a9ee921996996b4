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
	EnvLogLevel       = "AWS_LAMBDA_LOG_LEVEL"
)

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
