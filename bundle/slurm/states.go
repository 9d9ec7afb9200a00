package slurm

import "github.com/bundle-dev/bundle/bundle/schedule"

// DependencyNeverSatisfied is the reason Slurm gives a job whose afterok
// dependency failed.
const DependencyNeverSatisfied = "DependencyNeverSatisfied"

// Map turns a Slurm job state into bundle's: PENDING → waiting, RUNNING
// (and the other states of a job holding its nodes) → building,
// COMPLETED → done, FAILED, TIMEOUT, OUT_OF_MEMORY and the other ends
// of a job that did not succeed → failed, a job cancelled (or left
// pending) because a dependency failed → skipped. A state Slurm may add
// later is failed: final is true for every state a job does not leave.
func Map(s Status) (st schedule.JobState, final bool) {
	switch s.State {
	case "PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD":
		if s.Reason == DependencyNeverSatisfied {
			return schedule.Skipped, true
		}
		return schedule.Waiting, false
	case "RUNNING", "CONFIGURING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING", "SUSPENDED", "STOPPED":
		return schedule.Building, false
	case "COMPLETED":
		return schedule.Done, true
	case "CANCELLED":
		if s.Reason == DependencyNeverSatisfied {
			return schedule.Skipped, true
		}
		return schedule.Failed, true
	}
	// FAILED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, BOOT_FAIL, DEADLINE,
	// PREEMPTED, SPECIAL_EXIT, REVOKED, and anything unknown.
	return schedule.Failed, true
}
