package manifest

// Phase is the stage of a transfer that a progress Event is about.
type Phase int

const (
	// PhaseHash: push is computing a file's digest.
	PhaseHash Phase = iota
	// PhaseUpload: push is sending a blob.
	PhaseUpload
	// PhaseDownload: pull is receiving and verifying a blob.
	PhaseDownload
	// PhasePlan: before transfers start, one event per file to transfer
	// (push: per distinct blob) with its Total, so that a progress display
	// knows the whole size.
	PhasePlan
)

// Event reports progress. Handlers are called from several goroutines at
// once and must be safe for that; they should return quickly.
type Event struct {
	Phase Phase
	// Path is the file the event is about.
	Path string
	// Total is the file's size.
	Total int64
	// N is the number of bytes processed since the previous event for the
	// same file and phase.
	N int64
	// Start is set on a file's first event of a phase, with N == 0.
	Start bool
	// Done is set on a file's last event of a phase.
	Done bool
	// Skipped is set with Done when an upload was not needed because the
	// target already had the blob.
	Skipped bool
}

// ProgressFunc receives progress events; nil means no reporting.
type ProgressFunc func(Event)

func (f ProgressFunc) emit(e Event) {
	if f != nil {
		f(e)
	}
}
