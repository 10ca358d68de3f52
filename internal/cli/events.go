package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/client"
)

// defaultEventLimit keeps "events list" short: the log only grows.
const defaultEventLimit = 50

func (a *app) eventsCmd() *cobra.Command {
	since, until := &timeValue{now: a.now}, &timeValue{now: a.now}
	c := group("events", "Read the audit log",
		events.listCmd(a, defaultEventLimit,
			textFilter("action", "action", "only events of this action, such as login_failed or token_created"),
			textFilter("actor", "actor", "only events by this username"),
			textFilter("target", "target", "only events about this name"),
			filter{flag: "since", param: "since", usage: "only events from this RFC 3339 time on, or from this long ago (24h)", value: since},
			filter{flag: "until", param: "until", usage: "only events up to this RFC 3339 time, or up to this long ago", value: until},
		),
		a.eventsVerifyCmd(),
	)
	c.Aliases = []string{"event"}
	return c
}

// errChainBroken makes "events verify" exit 1 on a broken chain.
var errChainBroken = errors.New("the audit chain is broken")

func (a *app) eventsVerifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify",
		Short: "Check the tamper-evident chain of the audit log",
		Long: `Ask the server to check the audit log's hash chain: every event's HMAC
agrees with its content and the event before it, no event is missing, and
events removed by retention are accounted for. Exits 0 when the chain is
intact, 1 when it is broken (naming the first broken event) or the check
could not run.`,
		Args: cobra.NoArgs,
	}
	return a.leaf(c, func(ctx context.Context, s *session, _ []string) error {
		// A long chain is checked in parts, each going on from the last.
		var v client.ChainVerification
		var after int64
		for {
			part, err := s.api.Events.Verify(ctx, after)
			if err != nil {
				return err
			}
			if v.FirstSeq == 0 {
				v.FirstSeq = part.FirstSeq
			}
			v.Checked += part.Checked
			v.LastSeq = max(v.LastSeq, part.LastSeq)
			v.BaseSeq, v.Intact, v.Broken = part.BaseSeq, part.Intact, part.Broken
			if !part.Intact || part.NextAfterSeq == 0 {
				break
			}
			after = part.NextAfterSeq
		}
		if s.json {
			raw, err := json.Marshal(v)
			if err != nil {
				return err
			}
			if err := writeJSON(s.out, raw); err != nil {
				return err
			}
		} else if v.Intact {
			fmt.Fprintf(s.out, "intact: %d events checked (seq %d to %d)", v.Checked, v.FirstSeq, v.LastSeq)
			if v.BaseSeq > 0 {
				fmt.Fprintf(s.out, "; events up to seq %d were removed by retention", v.BaseSeq)
			}
			fmt.Fprintln(s.out)
		}
		if !v.Intact {
			if v.Broken == nil {
				return errChainBroken
			}
			if v.Broken.ID != 0 {
				return fmt.Errorf("%w at seq %d (event id %d): %s", errChainBroken, v.Broken.Seq, v.Broken.ID, v.Broken.Reason)
			}
			return fmt.Errorf("%w at seq %d: %s", errChainBroken, v.Broken.Seq, v.Broken.Reason)
		}
		return nil
	})
}
