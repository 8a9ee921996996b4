package sqs

import (
	"encoding/json"
	"fmt"

	"flashsale/internal/order"
)

// envelope is the part of an SNS notification that SNS writes into an SQS
// message body when the subscription does not use raw message delivery.
type envelope struct {
	Type      string  `json:"Type"`
	MessageID string  `json:"MessageId"`
	TopicArn  string  `json:"TopicArn"`
	Message   *string `json:"Message"`
}

// DecodeBody decodes the body of an SQS message into an order. The body is
// either the order itself (an SNS subscription with raw message delivery, or
// a message sent to the queue directly) or an SNS notification envelope
// whose Message is the order. Anything else is an error: the message is
// poison and is left to the queue's dead-letter handling.
func DecodeBody(body string) (order.Order, error) {
	var env envelope
	// An order has none of the envelope's fields, and order.Unmarshal
	// rejects unknown fields, so an envelope is never taken for an order
	// nor an order for an envelope.
	if err := json.Unmarshal([]byte(body), &env); err == nil && env.Type != "" {
		if env.Type != "Notification" {
			return order.Order{}, fmt.Errorf("SNS %s message from %s, not an order", env.Type, env.TopicArn)
		}
		if env.Message == nil {
			return order.Order{}, fmt.Errorf("SNS notification %s without a Message", env.MessageID)
		}
		o, err := order.Unmarshal([]byte(*env.Message))
		if err != nil {
			return order.Order{}, fmt.Errorf("SNS notification %s: %w", env.MessageID, err)
		}
		return o, nil
	}
	o, err := order.Unmarshal([]byte(body))
	if err != nil {
		return order.Order{}, fmt.Errorf("message body: %w", err)
	}
	return o, nil
}
