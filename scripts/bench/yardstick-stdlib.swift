// The smallest static Swift program: the standard library only, printing a JSON line.
print(#"{"counts":{"applied":20},"degraded":false,"summary":"20 applied"}"#)
