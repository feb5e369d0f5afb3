package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/user360/user360/replay"
)

// generationPoll is how often a process reads the generation pointer.
const generationPoll = time.Second

// generation returns the namespace and consumer group of a stage whose
// state is derived from the log (identity, segmenter) on the process's
// active generation: "u360" and the default group for generation 1,
// "u360g<N>" and "<group>.u360g<N>" after a replay switched over.
// Activation's deliveries and import jobs are not derived from the log and
// stay on "u360".
func (s *stack) generation(group string) (namespace, groupName string) {
	ns := s.cfg.Namespace
	if ns == "" {
		ns = replay.DefaultBase
	}
	return ns, replay.GroupFor(group, replay.DefaultBase, ns)
}

// runGenerations runs the process on the active generation and restarts its
// stack in-process when `user360 replay` switches the generation pointer:
// the running stack drains and commits (as on shutdown), then a new stack
// is built on the new namespace and consumer groups. The HTTP listener is
// closed and reopened in between (well under a second). started is called
// with every new stack. Processes without Redis (ingest only) have no
// derived state and never restart.
func runGenerations(ctx context.Context, cfg stackConfig, poll time.Duration, started func(*stack)) error {
	if poll <= 0 {
		poll = generationPoll
	}
	for {
		if cfg.Redis != nil {
			ns, err := replay.ActiveNamespace(ctx, cfg.Redis, replay.DefaultBase)
			if err != nil {
				return err
			}
			cfg.Namespace = ns
		}
		st, err := newStack(ctx, cfg)
		if err != nil {
			return err
		}
		if started != nil {
			started(st)
		}
		runCtx, stop := context.WithCancel(ctx)
		switched := make(chan string, 1)
		if cfg.Redis != nil {
			go watchGeneration(runCtx, cfg.Redis, cfg.Namespace, poll, func(ns string) {
				switched <- ns
				stop()
			})
		}
		err = st.run(runCtx)
		stop()
		select {
		case ns := <-switched:
			if ctx.Err() == nil && err == nil {
				cfg.Log.Info().Str("from", cfg.Namespace).Str("to", ns).Msg("generation switched; restarted the stages on the new namespace")
				// The log was rebuilt once already; the new generation's
				// groups have their offsets from the replay.
				cfg.RebuildFromLog = nil
				continue
			}
		default:
		}
		return err
	}
}

// watchGeneration polls the pointer and calls onChange once when it names
// another namespace than current. Read errors are logged by the caller's
// stack health checks; the watcher keeps polling.
func watchGeneration(ctx context.Context, rdb redis.UniversalClient, current string, poll time.Duration, onChange func(string)) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ns, err := replay.ActiveNamespace(ctx, rdb, replay.DefaultBase)
		if err != nil || ns == current {
			continue
		}
		onChange(ns)
		return
	}
}
