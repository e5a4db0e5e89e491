package db

import (
	"log/slog"
	"time"
)

// Event names a change that handlers registered with On hear about.
type Event string

// The events a Store fires, each after its transaction commits.
const (
	EventUserCreated  Event = "user_created"
	EventUserUpdated  Event = "user_updated"
	EventUserBanned   Event = "user_banned"
	EventUserUnbanned Event = "user_unbanned"
	EventRolesChanged Event = "roles_changed"
	EventUserDeleted  Event = "user_deleted"
)

// EventData is what an event handler receives.
type EventData struct {
	Event  Event
	UserID string
	Email  string
	Actor  Actor
	At     time.Time
}

// pending collects the events of one transaction until it commits.
type pending []EventData

func (p *pending) add(ev Event, userID, email string, actor Actor) {
	*p = append(*p, EventData{Event: ev, UserID: userID, Email: email, Actor: actor, At: time.Now()})
}

// On registers handler for event. Handlers run synchronously, in the order
// registered, after the change's transaction has committed — never for a
// change that rolled back. A panicking handler is logged and does not stop
// the others.
func (s *Store) On(event Event, handler func(EventData)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[event] = append(s.handlers[event], handler)
}

func (s *Store) fire(events pending) {
	for _, ev := range events {
		s.mu.RLock()
		hs := append([]func(EventData){}, s.handlers[ev.Event]...)
		s.mu.RUnlock()
		for _, h := range hs {
			callHandler(h, ev)
		}
	}
}

func callHandler(h func(EventData), ev EventData) {
	defer func() {
		if r := recover(); r != nil {
			slog.Error("event handler panicked", "event", string(ev.Event), "user_id", ev.UserID, "panic", r)
		}
	}()
	h(ev)
}
