package jobring

import "errors"

var (
	// ErrClosed fails a submission to a closed ring, and every job that a
	// Shutdown whose context ended had to give up on.
	ErrClosed = errors.New("jobring: closed")
	// ErrConfig is returned, wrapped with what was wrong, by New.
	ErrConfig = errors.New("jobring: bad config")
	// ErrRules is returned, wrapped with what was wrong, by Compile.
	ErrRules = errors.New("jobring: bad rules")
	// ErrNoWorker fails a job that no live worker may take: no worker holds
	// its kind and no fallback gives it to a core.
	ErrNoWorker = errors.New("jobring: no live worker may take the job")
	// ErrWorkerStopped fails a job whose worker stopped after claiming it
	// when no other live worker may take it.
	ErrWorkerStopped = errors.New("jobring: worker stopped")
	// ErrPanic fails a job whose worker function panicked; the worker
	// stops, and the rest of its batch goes to other workers.
	ErrPanic = errors.New("jobring: worker function panicked")
	// ErrUnknownWorker is returned by StopWorker, RunWorker and StepWorker
	// for an id out of range.
	ErrUnknownWorker = errors.New("jobring: no such worker")
	// ErrWorkerBusy is returned by RunWorker and StepWorker for a worker
	// that a RunWorker or StepWorker call is running already.
	ErrWorkerBusy = errors.New("jobring: worker already running")
)
