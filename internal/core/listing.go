package core

// visiblePage is the one way a list that a scoped grant narrows is read:
// it fetches pages of the store after `after` and keeps the rows the
// actor may see, rendered by view, until limit rows are kept or the store
// runs out, so that paging never stops early on a page the filter
// emptied. key is a row's paging key (its name or slug).
func visiblePage[T, V any](after string, limit int,
	fetch func(after string, limit int) ([]T, error),
	key func(T) string, visible func(T) bool, view func(T) (V, error)) ([]V, error) {
	out := make([]V, 0, limit)
	for len(out) < limit {
		rows, err := fetch(after, limit)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			if len(out) == limit {
				break
			}
			if !visible(r) {
				continue
			}
			v, err := view(r)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if len(rows) < limit {
			break
		}
		after = key(rows[len(rows)-1])
	}
	return out, nil
}
