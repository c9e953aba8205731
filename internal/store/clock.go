package store

import "time"

// timeNow is the store's clock.
var timeNow = time.Now
