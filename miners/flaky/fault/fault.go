// Package fault is the work of the flaky miner: it parses the flaky.*
// settings and injects the faults they ask for into a miner's forward
// function and its chain registration, on deterministic schedules, so that
// tests of the harness can assert exact counts.
//
// Queries are numbered 1, 2, 3, … in the order they reach the forward
// function (an atomic counter), warm-up queries included. A query n is
// answered by the first rule that applies:
//
//  1. n > flaky.exit_after (when set): the process exits with
//     flaky.exit_code, without answering;
//  2. n is a multiple of flaky.hang_every: no answer until the call's
//     context ends;
//  3. after its latency (flaky.latency, drawn per flaky.latency_dist),
//     n is a multiple of flaky.panic_every: the handler panics;
//  4. n is a multiple of flaky.every and flaky.code is set: that return code;
//  5. otherwise zeros of the right shape, Success.
package fault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerbench/minerbench/minerbench/miner"
	"github.com/minerbench/minerbench/miners/internal/zeros"
)

// The flaky miner's settings.
const (
	KeyLatency     = "flaky.latency"
	KeyLatencyDist = "flaky.latency_dist"
	KeySeed        = "flaky.seed"
	KeyCode        = "flaky.code"
	KeyEvery       = "flaky.every"
	KeyPanicEvery  = "flaky.panic_every"
	KeyHangEvery   = "flaky.hang_every"
	KeyExitAfter   = "flaky.exit_after"
	KeyExitCode    = "flaky.exit_code"
	KeyRegister    = "flaky.register"
	KeyStartDelay  = "flaky.start_delay"
	KeyLog         = "flaky.log"
)

// maxEvery bounds the periods and counts of the schedules.
const maxEvery = 1 << 30

// lateTimeout bounds a late announcement, which has no caller to bound it.
const lateTimeout = 30 * time.Second

// Defaults returns the flaky miner's settings with their defaults: no fault
// at all, a miner as fast and as reliable as noop.
func Defaults() miner.Settings {
	return miner.Settings{
		KeyLatency:     "0s",
		KeyLatencyDist: string(Fixed),
		KeySeed:        "0",
		KeyCode:        "",
		KeyEvery:       "1",
		KeyPanicEvery:  "0",
		KeyHangEvery:   "0",
		KeyExitAfter:   "0",
		KeyExitCode:    "1",
		KeyRegister:    string(RegisterNormal),
		KeyStartDelay:  "0s",
		KeyLog:         "false",
	}
}

// Dist is the distribution of the per-query latency.
type Dist string

// The latency distributions, each of mean flaky.latency.
const (
	// Fixed makes every query take flaky.latency.
	Fixed Dist = "fixed"
	// Uniform draws from [0, 2·flaky.latency).
	Uniform Dist = "uniform"
	// Exponential draws from the exponential distribution.
	Exponential Dist = "exponential"
)

// RegisterMode is how the miner announces its axon on the chain.
type RegisterMode string

// The registration modes.
const (
	// RegisterNormal announces the axon flaky.start_delay after it serves,
	// before Run returns.
	RegisterNormal RegisterMode = "normal"
	// RegisterNever announces nothing: the host never finds the axon.
	RegisterNever RegisterMode = "never"
	// RegisterUnspecified announces the unroutable address 0.0.0.0.
	RegisterUnspecified RegisterMode = "unspecified"
	// RegisterLate lets Run return at once and announces the axon
	// flaky.start_delay later, from the background.
	RegisterLate RegisterMode = "late"
)

// Config is the parsed form of the flaky.* settings. Zero periods and
// counts mean never.
type Config struct {
	// Latency is the mean time a query takes before it is answered.
	Latency time.Duration
	// Dist is the distribution of the latency.
	Dist Dist
	// Seed seeds the latency draws: query n's latency depends only on the
	// seed and n.
	Seed uint64
	// Code is answered on every Every-th query, when HasCode is set.
	Code miner.ReturnCode
	// HasCode says flaky.code is set.
	HasCode bool
	// Every is the period of Code.
	Every int
	// PanicEvery makes every PanicEvery-th query panic.
	PanicEvery int
	// HangEvery makes every HangEvery-th query wait for its context's end.
	HangEvery int
	// ExitAfter makes the process exit with ExitCode when query
	// ExitAfter+1 arrives.
	ExitAfter int
	// ExitCode is the exit status of ExitAfter.
	ExitCode int
	// Register is how the axon is announced on the chain.
	Register RegisterMode
	// StartDelay is how long after the axon serves it is announced.
	StartDelay time.Duration
	// Log logs every query's number and outcome.
	Log bool
}

// Parse reads the flaky.* settings of s, refusing a bad value with an error
// naming the key, the value and what is accepted.
func Parse(s miner.Settings) (Config, error) {
	var c Config
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	var err error
	c.Latency, err = s.Duration(KeyLatency)
	check(err)
	switch d := Dist(strings.TrimSpace(s[KeyLatencyDist])); d {
	case Fixed, Uniform, Exponential:
		c.Dist = d
	default:
		check(fmt.Errorf("setting %s=%q: want %s, %s or %s", KeyLatencyDist, s[KeyLatencyDist], Fixed, Uniform, Exponential))
	}
	if c.Seed, err = strconv.ParseUint(strings.TrimSpace(s[KeySeed]), 0, 64); err != nil {
		check(fmt.Errorf("setting %s=%q: want an unsigned 64-bit integer", KeySeed, s[KeySeed]))
	}
	if v := strings.TrimSpace(s[KeyCode]); v != "" {
		c.Code, err = parseCode(v)
		c.HasCode = err == nil
		check(err)
	}
	c.Every, err = s.Int(KeyEvery, 1, maxEvery)
	check(err)
	c.PanicEvery, err = s.Int(KeyPanicEvery, 0, maxEvery)
	check(err)
	c.HangEvery, err = s.Int(KeyHangEvery, 0, maxEvery)
	check(err)
	c.ExitAfter, err = s.Int(KeyExitAfter, 0, maxEvery)
	check(err)
	c.ExitCode, err = s.Int(KeyExitCode, 0, 125)
	check(err)
	switch m := RegisterMode(strings.TrimSpace(s[KeyRegister])); m {
	case RegisterNormal, RegisterNever, RegisterUnspecified, RegisterLate:
		c.Register = m
	default:
		check(fmt.Errorf("setting %s=%q: want %s, %s, %s or %s", KeyRegister, s[KeyRegister], RegisterNormal, RegisterNever, RegisterUnspecified, RegisterLate))
	}
	c.StartDelay, err = s.Duration(KeyStartDelay)
	check(err)
	if c.Log, err = strconv.ParseBool(strings.TrimSpace(s[KeyLog])); err != nil {
		check(fmt.Errorf("setting %s=%q: want true or false", KeyLog, s[KeyLog]))
	}
	return c, errors.Join(errs...)
}

// parseCode reads a return code by name (NucleusFull) or number (18).
func parseCode(v string) (miner.ReturnCode, error) {
	code, err := miner.ParseReturnCode(v)
	if err != nil {
		return 0, fmt.Errorf("setting %s=%q: want a return code name such as NucleusFull, or its number", KeyCode, v)
	}
	if code == miner.Success {
		return 0, fmt.Errorf("setting %s=%q: want a return code other than Success", KeyCode, v)
	}
	return code, nil
}

// Injector answers queries and registers the axon with the faults of its
// Config. Its methods are safe for concurrent use.
type Injector struct {
	cfg      Config
	exit     func(code int)
	log      *log.Logger
	queries  atomic.Int64
	exitOnce sync.Once
	zeros    zeros.Answerer
}

// New returns an Injector of cfg. exit ends the process (os.Exit in the
// miner); it is called at most once. The log lines go to logw.
func New(cfg Config, exit func(code int), logw io.Writer) *Injector {
	return &Injector{cfg: cfg, exit: exit, log: log.New(logw, "flaky: ", 0)}
}

// Queries returns how many queries have reached Forward.
func (in *Injector) Queries() int64 { return in.queries.Load() }

// Latency returns the latency of query n: a function of the seed and n
// alone, so a schedule is the same whatever the order queries arrive in.
func (in *Injector) Latency(n int64) time.Duration {
	mean := float64(in.cfg.Latency)
	switch in.cfg.Dist {
	case Uniform:
		return time.Duration(2 * mean * in.rng(n).Float64())
	case Exponential:
		return time.Duration(mean * in.rng(n).ExpFloat64())
	}
	return in.cfg.Latency
}

func (in *Injector) rng(n int64) *rand.Rand {
	return rand.New(rand.NewPCG(in.cfg.Seed, uint64(n)))
}

// errExited is Forward's answer when exit returned (only in tests).
var errExited = errors.New("the process was asked to exit")

// Forward is the miner's forward function: it numbers the query and answers
// it as the package documentation says.
func (in *Injector) Forward(ctx context.Context, x miner.Tensor) (miner.Tensor, error) {
	c := &in.cfg
	n := in.queries.Add(1)
	if c.ExitAfter > 0 && n > int64(c.ExitAfter) {
		in.exitOnce.Do(func() {
			in.log.Printf("query %d: exiting with status %d, as %s=%d asks", n, c.ExitCode, KeyExitAfter, c.ExitAfter)
			in.exit(c.ExitCode)
		})
		return miner.Tensor{}, errExited
	}
	if multiple(n, c.HangEvery) {
		in.logf("query %d: hanging until the call ends, as %s=%d asks", n, KeyHangEvery, c.HangEvery)
		<-ctx.Done()
		return miner.Tensor{}, ctx.Err()
	}
	if err := sleep(ctx, in.Latency(n)); err != nil {
		in.logf("query %d: cut during its latency: %v", n, err)
		return miner.Tensor{}, err
	}
	if multiple(n, c.PanicEvery) {
		in.logf("query %d: panicking, as %s=%d asks", n, KeyPanicEvery, c.PanicEvery)
		panic(fmt.Sprintf("flaky: query %d: panicking, as %s=%d asks", n, KeyPanicEvery, c.PanicEvery))
	}
	if c.HasCode && multiple(n, c.Every) {
		in.logf("query %d: answering %s, as %s=%d asks", n, c.Code, KeyEvery, c.Every)
		return miner.Tensor{}, miner.Refuse(c.Code, "flaky: query %d: %s, as %s=%d asks", n, c.Code, KeyEvery, c.Every)
	}
	in.logf("query %d: Success", n)
	return in.zeros.Answer(x), nil
}

func (in *Injector) logf(format string, args ...any) {
	if in.cfg.Log {
		in.log.Printf(format, args...)
	}
}

// Register is the miner's miner.Registrar: it announces a as flaky.register
// and flaky.start_delay say.
func (in *Injector) Register(ctx context.Context, announce func(context.Context, miner.AxonInfo) error, a miner.AxonInfo) error {
	c := &in.cfg
	switch c.Register {
	case RegisterNever:
		in.log.Printf("not registering the axon, as %s=%s asks", KeyRegister, c.Register)
		return nil
	case RegisterLate:
		in.log.Printf("registering the axon in %v from the background, as %s=%s asks", c.StartDelay, KeyRegister, c.Register)
		go func() {
			time.Sleep(c.StartDelay)
			ctx, cancel := context.WithTimeout(context.Background(), lateTimeout)
			defer cancel()
			if err := announce(ctx, a); err != nil {
				in.log.Printf("late registration failed: %v", err)
				return
			}
			in.log.Printf("registered the axon late")
		}()
		return nil
	case RegisterUnspecified:
		in.log.Printf("registering the axon at the unspecified address 0.0.0.0, as %s=%s asks", KeyRegister, c.Register)
		a.IP = "0.0.0.0"
	}
	if c.StartDelay > 0 {
		in.log.Printf("starting slowly (pid %d): registering the axon in %v, as %s asks", os.Getpid(), c.StartDelay, KeyStartDelay)
		if err := sleep(ctx, c.StartDelay); err != nil {
			return fmt.Errorf("flaky: slow start cut short: %w", err)
		}
	}
	return announce(ctx, a)
}

// multiple reports whether n is a multiple of a positive every.
func multiple(n int64, every int) bool {
	return every > 0 && n%int64(every) == 0
}

// sleep waits d, or until ctx ends and then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
