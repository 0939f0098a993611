package dataplane

// WithLeaveHook returns opts with hook called as each stop in the
// background begins, for the tests of package dataplane_test.
func WithLeaveHook(opts Options, hook func()) Options {
	opts.leaveHook = hook
	return opts
}
