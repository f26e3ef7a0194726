"""Running jobs: the job state machine, executors and the dispatcher."""
