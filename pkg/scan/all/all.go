// Package all lists the formats modelverify scans by default, in the order the
// dispatcher tries them: specific magic numbers first, the loose pickle match
// last.
package all

import (
	"github.com/modelverify/modelverify/pkg/scan"
	"github.com/modelverify/modelverify/pkg/scan/pickle"
)

// Formats returns the default formats.
func Formats() []scan.Format {
	return []scan.Format{
		// Container and non-pickle formats go here, before pickle.
		pickle.Format{},
	}
}
