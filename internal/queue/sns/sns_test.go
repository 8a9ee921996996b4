package sns_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sns/types"

	"flashsale/internal/order"
	"flashsale/internal/queue"
	"flashsale/internal/queue/queuetest"
	"flashsale/internal/queue/sns"
	"flashsale/internal/queue/sns/snstest"
	"flashsale/internal/testutil/moto"
)

var names atomic.Int64

// uniqueName returns a topic/queue name unique within the test binary.
func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e6, names.Add(1))
}

func TestContract(t *testing.T) {
	srv := moto.Start(t)
	cfg := srv.Config(t)
	queuetest.Run(t, func(t *testing.T) queuetest.Harness {
		f := snstest.NewTopicWithQueue(t, cfg, uniqueName("contract"), true)
		p, err := sns.New(awssns.NewFromConfig(cfg), f.TopicARN)
		if err != nil {
			t.Fatal(err)
		}
		return queuetest.Harness{Publisher: p, Consumer: f.Consumer(), Redelivery: 2 * time.Second}
	})
}

func TestPublishCarriesOrderIDAttribute(t *testing.T) {
	srv := moto.Start(t)
	cfg := srv.Config(t)
	for _, raw := range []bool{true, false} {
		t.Run(fmt.Sprintf("raw=%v", raw), func(t *testing.T) {
			f := snstest.NewTopicWithQueue(t, cfg, uniqueName("attr"), raw)
			p, err := sns.New(awssns.NewFromConfig(cfg), f.TopicARN)
			if err != nil {
				t.Fatal(err)
			}
			o := queuetest.NewOrder(t, 5)
			if err := p.Publish(context.Background(), o); err != nil {
				t.Fatalf("publish: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m, err := f.Receive(ctx)
			if err != nil {
				t.Fatal(err)
			}
			body, attr := m.Body, m.Attributes[sns.AttributeOrderID]
			if !raw {
				var env struct {
					Type              string
					TopicArn          string
					Message           string
					MessageAttributes map[string]struct{ Type, Value string }
				}
				if err := json.Unmarshal([]byte(m.Body), &env); err != nil {
					t.Fatalf("envelope %q: %v", m.Body, err)
				}
				if env.Type != "Notification" || env.TopicArn != f.TopicARN {
					t.Errorf("envelope type %q topic %q, want Notification from %s", env.Type, env.TopicArn, f.TopicARN)
				}
				a := env.MessageAttributes[sns.AttributeOrderID]
				if a.Type != "String" {
					t.Errorf("order_id attribute type %q, want String", a.Type)
				}
				body, attr = env.Message, a.Value
			}
			if attr != o.ID {
				t.Errorf("order_id attribute = %q, want %q", attr, o.ID)
			}
			got, err := order.Unmarshal([]byte(body))
			if err != nil {
				t.Fatalf("published body %q is not an order: %v", body, err)
			}
			if got.ID != o.ID || !got.CreatedAt.Equal(o.CreatedAt) || len(got.Items) != len(o.Items) {
				t.Errorf("published %+v, want %+v", got, o)
			}
		})
	}
}

func TestNewValidates(t *testing.T) {
	client := &fakeClient{}
	tests := []struct {
		name   string
		client sns.API
		arn    string
		ok     bool
	}{
		{"valid", client, "arn:aws:sns:us-east-1:123456789012:orders", true},
		{"other partition", client, "arn:aws-cn:sns:cn-north-1:123456789012:orders", true},
		{"empty ARN", client, "", false},
		{"topic name only", client, "orders", false},
		{"truncated ARN", client, "arn:aws:sns:us-east-1", false},
		{"no client", nil, "arn:aws:sns:us-east-1:123456789012:orders", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sns.New(tt.client, tt.arn)
			if (err == nil) != tt.ok {
				t.Fatalf("New(%q) error = %v, want ok=%v", tt.arn, err, tt.ok)
			}
		})
	}
}

type fakeClient struct {
	err   error
	calls int
	in    *awssns.PublishInput
}

func (f *fakeClient) Publish(ctx context.Context, in *awssns.PublishInput, _ ...func(*awssns.Options)) (*awssns.PublishOutput, error) {
	f.calls++
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &awssns.PublishOutput{MessageId: aws.String("m-1")}, nil
}

const testARN = "arn:aws:sns:us-east-1:123456789012:orders"

func TestPublishInput(t *testing.T) {
	fc := &fakeClient{}
	p, err := sns.New(fc, testARN)
	if err != nil {
		t.Fatal(err)
	}
	o := queuetest.NewOrder(t, 3)
	if err := p.Publish(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(fc.in.TopicArn) != testARN {
		t.Errorf("TopicArn = %q, want %q", aws.ToString(fc.in.TopicArn), testARN)
	}
	want, _ := order.Marshal(o)
	if aws.ToString(fc.in.Message) != string(want) {
		t.Errorf("Message = %s, want %s", aws.ToString(fc.in.Message), want)
	}
	a := fc.in.MessageAttributes[sns.AttributeOrderID]
	if aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != o.ID {
		t.Errorf("order_id attribute = %s/%s, want String/%s", aws.ToString(a.DataType), aws.ToString(a.StringValue), o.ID)
	}
}

func TestPublishErrors(t *testing.T) {
	boom := errors.New("connection refused")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		clientErr error
		wantCalls int
		wantFull  bool
		wantIs    error
	}{
		{"throttled is ErrFull", context.Background(), &types.ThrottledException{Message: aws.String("Rate exceeded")}, 1, true, nil},
		{"transport error wrapped", context.Background(), boom, 1, false, boom},
		{"not found wrapped", context.Background(), &types.NotFoundException{Message: aws.String("Topic does not exist")}, 1, false, nil},
		{"cancelled context publishes nothing", cancelled, nil, 0, false, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fc := &fakeClient{err: tt.clientErr}
			p, _ := sns.New(fc, testARN)
			o := queuetest.NewOrder(t, 1)
			err := p.Publish(tt.ctx, o)
			if err == nil {
				t.Fatal("publish succeeded")
			}
			if fc.calls != tt.wantCalls {
				t.Errorf("client called %d times, want %d", fc.calls, tt.wantCalls)
			}
			if got := errors.Is(err, queue.ErrFull); got != tt.wantFull {
				t.Errorf("errors.Is(%v, ErrFull) = %v, want %v", err, got, tt.wantFull)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v does not wrap %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), o.ID) {
				t.Errorf("error %q does not name the order", err)
			}
		})
	}
}

// TestPublishTimeout publishes to an endpoint that accepts connections and
// never answers: Publish must give up after its own timeout, well before the
// caller's much longer deadline, with an error that says so.
func TestPublishTimeout(t *testing.T) {
	endpoint := snstest.Silent(t)
	client := awssns.New(awssns.Options{
		Region:       moto.Region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(moto.AccessKeyID, moto.SecretAccessKey, ""),
	})
	tests := []struct {
		name     string
		timeout  time.Duration
		deadline time.Duration // of the caller's context
		want     time.Duration // the call's expected length
		wantOurs bool          // the error names the publisher's timeout
	}{
		{"publisher timeout first", 300 * time.Millisecond, time.Minute, 300 * time.Millisecond, true},
		{"caller deadline first", time.Minute, 300 * time.Millisecond, 300 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := sns.New(client, testARN, sns.WithTimeout(tt.timeout))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), tt.deadline)
			defer cancel()
			o := queuetest.NewOrder(t, 2)
			start := time.Now()
			err = p.Publish(ctx, o)
			took := time.Since(start)
			if err == nil {
				t.Fatal("publish to a silent endpoint succeeded")
			}
			if took < tt.want-50*time.Millisecond || took > tt.want+2*time.Second {
				t.Errorf("publish gave up after %v, want about %v", took, tt.want)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v does not wrap context.DeadlineExceeded", err)
			}
			if errors.Is(err, queue.ErrFull) {
				t.Errorf("a timeout is not a full queue: %v", err)
			}
			if got := strings.Contains(err.Error(), "no answer within "+tt.timeout.String()); got != tt.wantOurs {
				t.Errorf("error %q names the publisher's timeout: %v, want %v", err, got, tt.wantOurs)
			}
		})
	}
}

func TestTimeoutOption(t *testing.T) {
	tests := []struct {
		name string
		opts []sns.Option
		want time.Duration
		ok   bool
	}{
		{"default", nil, sns.DefaultTimeout, true},
		{"zero is the default", []sns.Option{sns.WithTimeout(0)}, sns.DefaultTimeout, true},
		{"set", []sns.Option{sns.WithTimeout(1500 * time.Millisecond)}, 1500 * time.Millisecond, true},
		{"last wins", []sns.Option{sns.WithTimeout(time.Second), sns.WithTimeout(2 * time.Second)}, 2 * time.Second, true},
		{"negative", []sns.Option{sns.WithTimeout(-time.Second)}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := sns.New(&fakeClient{}, testARN, tt.opts...)
			if (err == nil) != tt.ok {
				t.Fatalf("New error = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && p.Timeout() != tt.want {
				t.Errorf("Timeout() = %v, want %v", p.Timeout(), tt.want)
			}
		})
	}
}
