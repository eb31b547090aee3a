-- One job. ARGV: prefix, id.
return info(ARGV[2], now_ms())
