// This file is test data: the detail view shows lines around frames of the
// program when their source file is on disk.
package main

import "sync"

// Account is a bank account with its own lock.
type Account struct {
	name    string
	mu      sync.Mutex
	balance int
}

// Bank holds the accounts.
type Bank struct {
	accounts map[string]*Account
}

func (b *Bank) get(name string) *Account {
	return b.accounts[name]
}

// Transfer moves amount from a to to, locking the source first: two
// opposite transfers lock in opposite orders.
func (a *Account) Transfer(to *Account, amount int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	// the destination is locked while the source is held
	a.balance -= amount
	to.mu.Lock()
	defer to.mu.Unlock()
	to.balance += amount
}
