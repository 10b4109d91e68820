package target

// TimerStopped reports whether the runtime timer at addr (hchan.timer of a
// Go 1.23+ timer channel: time.NewTimer, time.After, time.NewTicker) can
// never send on its channel again by itself: it is stopped (when == 0: a
// Stop, or a one-shot timer that already fired) and no run of it is under
// way (its mu and sendLock are free and isSending is 0; the runtime's
// unlockAndRun holds one of them, or counts in isSending, from the moment
// it takes the timer until its send is done). Only a Reset can arm it
// again, and Reset needs the *time.Timer or *time.Ticker, whose first word
// is the channel: whatever can reach one reaches the channel.
//
// False when unsure: a layout without these fields, a read error, or a
// mutex word that is not plainly unlocked (0).
func (t *Target) TimerStopped(addr uint64) bool {
	if addr == 0 {
		return false
	}
	l, err := loadStruct(t.bi, "runtime.timer")
	if err != nil {
		return false
	}
	fields := []field{l.Field("mu.key"), l.Field("sendLock.key"), l.Field("when"), l.Field("isSending")}
	for _, f := range fields {
		if !f.OK {
			return false
		}
	}
	buf, err := t.readSmall(addr, int(l.Size))
	if err != nil || len(buf) < int(l.Size) {
		return false
	}
	for _, f := range fields {
		if get(buf, f) != 0 {
			return false
		}
	}
	return true
}
