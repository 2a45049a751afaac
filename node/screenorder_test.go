package node

// forgetTimeOrders drops ls's time orders and time-ordered columns, built from the endpoint
// data at first use: for a test's simulator that edits an endpoint of a loaded study in place
// (a node never does: a new import is a new load).
func (ls *loadedStudy) forgetTimeOrders() {
	ls.orderMu.Lock()
	defer ls.orderMu.Unlock()
	ls.order, ls.sorted = map[string][]int32{}, nil
}
