package report

import (
	"strconv"

	"github.com/hangtui/hangtui/inspect"
)

// appendResource writes r as encoding/json writes resourceDoc(r): the
// state's keys in the sorted order encoding/json gives a map, each kind's
// fields as resourceDoc sets them (TestResourceJSONMatchesEncodingJSON
// checks every kind).
func appendResource(b []byte, r *inspect.Resource) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, r.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(r.Kind))
	b = append(b, `,"addr":"0x`...)
	b = strconv.AppendUint(b, r.Addr, 16)
	b = append(b, `","type":`...)
	b = appendString(b, r.Type)
	b = append(b, `,"state":`...)
	b = appendState(b, r)
	b = append(b, `,"holders":[`...)
	for i, h := range r.Holders {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"goroutine":`...)
		b = strconv.AppendInt(b, h.Goroutine, 10)
		b = append(b, `,"evidence":`...)
		b = appendString(b, string(h.Evidence))
		if h.Frame != nil {
			b = append(b, `,"frame":`...)
			b = appendFrame(b, h.Frame)
		}
		if h.Read {
			b = append(b, `,"read":true`...)
		}
		b = append(b, '}')
	}
	b = append(b, `],"waiters":`...)
	b = appendIDs(b, r.Waiters)
	if len(r.Wakers) > 0 {
		b = append(b, `,"wakers":`...)
		b = appendIDs(b, r.Wakers)
	}
	return append(b, '}')
}

// appendState writes the kind's state as resourceDoc's map, keys sorted.
func appendState(b []byte, r *inspect.Resource) []byte {
	switch {
	case r.Mutex != nil:
		m := r.Mutex
		b = appendBoolField(b, `{"locked":`, m.Locked)
		b = appendBoolField(b, `,"starving":`, m.Starving)
		b = appendIntField(b, `,"waiter_count":`, int64(m.Waiters))
		b = appendBoolField(b, `,"woken":`, m.Woken)
	case r.RWMutex != nil:
		m := r.RWMutex
		b = appendIntField(b, `{"readers":`, int64(m.Readers))
		b = appendIntField(b, `,"readers_waiting":`, int64(m.ReadersWaiting))
		b = appendBoolField(b, `,"writer_held":`, m.WriterHeld)
		b = appendBoolField(b, `,"writer_pending":`, m.WriterPending)
		b = appendIntField(b, `,"writers_waiting":`, int64(m.WritersWaiting))
	case r.WaitGroup != nil:
		b = appendIntField(b, `{"counter":`, int64(r.WaitGroup.Counter))
		b = appendIntField(b, `,"waiters":`, int64(r.WaitGroup.Waiters))
	case r.Cond != nil:
		b = appendIntField(b, `{"waiters":`, int64(r.Cond.Waiters))
	case r.Chan != nil:
		c := r.Chan
		b = appendIntField(b, `{"cap":`, int64(c.Cap))
		b = appendBoolField(b, `,"closed":`, c.Closed)
		b = append(b, `,"elem_type":`...)
		b = appendString(b, c.ElemType)
		b = appendIntField(b, `,"len":`, int64(c.Len))
		b = append(b, `,"receivers":`...)
		b = appendIDs(b, c.Receivers)
		b = append(b, `,"senders":`...)
		b = appendIDs(b, c.Senders)
	case r.Sema != nil:
		b = appendIntField(b, `{"value":`, int64(r.Sema.Value))
	default:
		return append(b, "{}"...)
	}
	return append(b, '}')
}

func appendBoolField(b []byte, key string, v bool) []byte {
	return strconv.AppendBool(append(b, key...), v)
}

func appendIntField(b []byte, key string, v int64) []byte {
	return strconv.AppendInt(append(b, key...), v, 10)
}

// appendIDs writes ids as a JSON array; nil as [] (nonNilIDs).
func appendIDs(b []byte, ids []int64) []byte {
	b = append(b, '[')
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return append(b, ']')
}
