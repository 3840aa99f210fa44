package core

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// measure tells the metrics a request is done (p.began: when it was
// dispatched) and which error codes its response carries; resp is nil
// for a request answered with nothing.
func (b *Broker) measure(p pending, resp kmsg.Response) {
	if !b.measured {
		return
	}
	b.metrics.RequestDone(p.key, b.env.Clock.Since(p.began))
	if resp == nil {
		return
	}
	c := codeCounter{m: b.metrics, key: p.key}
	responseErrors(resp, &c)
	c.flush()
}

// codeCounter hands error codes to Metrics.ResponseError, a run of one
// code as one call (a fetch of many partitions that all failed alike).
type codeCounter struct {
	m    Metrics
	key  int16
	code int16
	n    int
}

func (c *codeCounter) add(code int16) {
	if code == 0 {
		return
	}
	if code != c.code {
		c.flush()
		c.code = code
	}
	c.n++
}

func (c *codeCounter) flush() {
	if c.n > 0 {
		c.m.ResponseError(c.key, c.code, c.n)
	}
	c.n = 0
}

// responseErrors hands every error code in resp to c: the top-level code
// and each topic's, partition's or group's, for every API the broker
// serves. A response type not listed here reports nothing.
func responseErrors(resp kmsg.Response, c *codeCounter) {
	switch r := resp.(type) {
	case *kmsg.ProduceResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.FetchResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.ListOffsetsResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.MetadataResponse:
		for i := range r.Topics {
			c.add(r.Topics[i].ErrorCode)
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.OffsetFetchResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
		for i := range r.Groups {
			c.add(r.Groups[i].ErrorCode)
			for j := range r.Groups[i].Topics {
				for k := range r.Groups[i].Topics[j].Partitions {
					c.add(r.Groups[i].Topics[j].Partitions[k].ErrorCode)
				}
			}
		}
	case *kmsg.FindCoordinatorResponse:
		c.add(r.ErrorCode)
		for i := range r.Coordinators {
			c.add(r.Coordinators[i].ErrorCode)
		}
	case *kmsg.JoinGroupResponse:
		c.add(r.ErrorCode)
	case *kmsg.HeartbeatResponse:
		c.add(r.ErrorCode)
	case *kmsg.LeaveGroupResponse:
		c.add(r.ErrorCode)
		for i := range r.Members {
			c.add(r.Members[i].ErrorCode)
		}
	case *kmsg.SyncGroupResponse:
		c.add(r.ErrorCode)
	case *kmsg.DescribeGroupsResponse:
		for i := range r.Groups {
			c.add(r.Groups[i].ErrorCode)
		}
	case *kmsg.ListGroupsResponse:
		c.add(r.ErrorCode)
	case *kmsg.ApiVersionsResponse:
		c.add(r.ErrorCode)
	case *kmsg.CreateTopicsResponse:
		for i := range r.Topics {
			c.add(r.Topics[i].ErrorCode)
		}
	case *kmsg.DeleteTopicsResponse:
		for i := range r.Topics {
			c.add(r.Topics[i].ErrorCode)
		}
	case *kmsg.InitProducerIDResponse:
		c.add(r.ErrorCode)
	case *kmsg.OffsetForLeaderEpochResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.DescribeConfigsResponse:
		for i := range r.Resources {
			c.add(r.Resources[i].ErrorCode)
		}
	case *kmsg.AlterConfigsResponse:
		for i := range r.Resources {
			c.add(r.Resources[i].ErrorCode)
		}
	case *kmsg.IncrementalAlterConfigsResponse:
		for i := range r.Resources {
			c.add(r.Resources[i].ErrorCode)
		}
	case *kmsg.CreatePartitionsResponse:
		for i := range r.Topics {
			c.add(r.Topics[i].ErrorCode)
		}
	case *kmsg.AddPartitionsToTxnResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
		for i := range r.Transactions {
			for j := range r.Transactions[i].Topics {
				for k := range r.Transactions[i].Topics[j].Partitions {
					c.add(r.Transactions[i].Topics[j].Partitions[k].ErrorCode)
				}
			}
		}
	case *kmsg.AddOffsetsToTxnResponse:
		c.add(r.ErrorCode)
	case *kmsg.EndTxnResponse:
		c.add(r.ErrorCode)
	case *kmsg.TxnOffsetCommitResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.WriteTxnMarkersResponse:
		for i := range r.Markers {
			for j := range r.Markers[i].Topics {
				for k := range r.Markers[i].Topics[j].Partitions {
					c.add(r.Markers[i].Topics[j].Partitions[k].ErrorCode)
				}
			}
		}
	case *kmsg.DescribeTransactionsResponse:
		for i := range r.TransactionStates {
			c.add(r.TransactionStates[i].ErrorCode)
		}
	case *kmsg.ListTransactionsResponse:
		c.add(r.ErrorCode)
	case *kmsg.DescribeProducersResponse:
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.DeleteGroupsResponse:
		for i := range r.Groups {
			c.add(r.Groups[i].ErrorCode)
		}
	case *kmsg.ElectLeadersResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.AlterPartitionAssignmentsResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.ListPartitionReassignmentsResponse:
		c.add(r.ErrorCode)
	case *kmsg.OffsetDeleteResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.DescribeClusterResponse:
		c.add(r.ErrorCode)
	case *kmsg.DescribeQuorumResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.UnregisterBrokerResponse:
		c.add(r.ErrorCode)
	case *kmsg.AlterPartitionResponse:
		c.add(r.ErrorCode)
		for i := range r.Topics {
			for j := range r.Topics[i].Partitions {
				c.add(r.Topics[i].Partitions[j].ErrorCode)
			}
		}
	case *kmsg.BrokerHeartbeatResponse:
		c.add(r.ErrorCode)
	case *kmsg.EnvelopeResponse:
		c.add(r.ErrorCode)
	}
}
