// The Varlink codec lands here.
