package bus

// TakeOneFilterPerConsumer makes b's consumers act as on servers older than
// NATS 2.10, which take one filter subject per consumer.
func TakeOneFilterPerConsumer(b *Bus) { b.oneFilter.Store(true) }

// MultiFilter reports whether b's consumers filter on several subjects.
func MultiFilter(b *Bus) bool { return b.multiFilter() }
