package app

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// errFlagValue matches a flag given a value out of its range.
var errFlagValue = errors.New("invalid flag value")

// flagValueError names the flag, what it takes and what it got.
type flagValueError struct {
	Flag, Want, Got string
}

func (e *flagValueError) Error() string {
	return fmt.Sprintf("--%s must be %s, got %s", e.Flag, e.Want, e.Got)
}

func (e *flagValueError) Unwrap() error { return errFlagValue }

// Bounds of numeric flags, kept on the flag itself and checked before a
// command runs (checkFlagValues): a value out of range is an error naming
// the flag, never a silent "unset", default or clamp.
const (
	annotationMin = "jetflow_min"
	annotationMax = "jetflow_max"
)

// atLeast bounds an integer flag from below.
func atLeast(fs *pflag.FlagSet, name string, least int64) {
	annotate(fs, name, annotationMin, strconv.FormatInt(least, 10))
}

// between bounds an integer flag on both sides.
func between(fs *pflag.FlagSet, name string, least, most int64) {
	atLeast(fs, name, least)
	annotate(fs, name, annotationMax, strconv.FormatInt(most, 10))
}

// atLeastDuration bounds a duration flag (or each element of a duration
// list) from below; time.Nanosecond means positive.
func atLeastDuration(fs *pflag.FlagSet, name string, least time.Duration) {
	annotate(fs, name, annotationMin, least.String())
}

func annotate(fs *pflag.FlagSet, name, key, value string) {
	if err := fs.SetAnnotation(name, key, []string{value}); err != nil {
		panic(err) // a flag registered under another name: a bug here
	}
}

// checkFlagValues checks every flag of cmd the user gave against its
// bounds, and reports every flag out of range at once.
func checkFlagValues(cmd *cobra.Command) error {
	var errs []error
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if err := checkFlagValue(cmd.Flags(), f); err != nil {
			errs = append(errs, err)
		}
	})
	return errors.Join(errs...)
}

func checkFlagValue(fs *pflag.FlagSet, f *pflag.Flag) error {
	lo, hasMin := f.Annotations[annotationMin]
	if !hasMin {
		return nil
	}
	switch f.Value.Type() {
	case "int", "int64", "int32":
		n, err := strconv.ParseInt(f.Value.String(), 10, 64)
		least, _ := strconv.ParseInt(lo[0], 10, 64)
		if err != nil {
			return nil // pflag parsed it: cannot happen
		}
		if hi, ok := f.Annotations[annotationMax]; ok {
			most, _ := strconv.ParseInt(hi[0], 10, 64)
			if n < least || n > most {
				return &flagValueError{Flag: f.Name, Want: fmt.Sprintf("%d to %d", least, most), Got: strconv.FormatInt(n, 10)}
			}
			return nil
		}
		if n < least {
			return &flagValueError{Flag: f.Name, Want: fmt.Sprintf("%d or more", least), Got: strconv.FormatInt(n, 10)}
		}
	case "duration":
		d, err := fs.GetDuration(f.Name)
		if err != nil {
			return nil
		}
		return checkDuration(f.Name, d, lo[0], "")
	case "durationSlice":
		ds, err := fs.GetDurationSlice(f.Name)
		if err != nil {
			return nil
		}
		for i, d := range ds {
			if err := checkDuration(f.Name, d, lo[0], fmt.Sprintf(" (element %d)", i+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkDuration(name string, d time.Duration, least, where string) error {
	floor, err := time.ParseDuration(least)
	if err != nil || d >= floor {
		return nil
	}
	want := "at least " + floor.String()
	if floor == time.Nanosecond {
		want = "positive"
	}
	return &flagValueError{Flag: name, Want: want, Got: d.String() + where}
}
