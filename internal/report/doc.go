// Package report writes a review in each of its output formats: one file per format.
package report
