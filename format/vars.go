package format

import "strings"

// nginxVar is how weblogd reads one nginx variable: the record field it
// fills (kField: none, it goes under Fields by its name) and, for a
// value that another variable follows with nothing between them, the
// bytes it may hold or its fixed width.
type nginxVar struct {
	kind  kind
	class class
	width int
}

// nginxVars lists the nginx variables that weblogd reads as record fields
// or knows the shape of. Both the log_format compiler and the json preset
// read variables through it. A variable not listed goes under Fields, by
// its name without the '$'.
var nginxVars = map[string]nginxVar{
	"remote_addr":     {kind: kHost, class: cHost},
	"remote_user":     {kind: kUser, class: cTarget},
	"time_local":      {kind: kTimeLocal, width: 26},
	"time_iso8601":    {kind: kTimeISO, width: 25},
	"msec":            {kind: kMsec, class: cNumber},
	"request":         {kind: kRequest},
	"request_method":  {kind: kMethod, class: cWord},
	"request_uri":     {kind: kPath, class: cTarget},
	"uri":             {kind: kURI, class: cPath},
	"document_uri":    {kind: kURI, class: cPath},
	"is_args":         {kind: kIsArgs, class: cQmark},
	"args":            {kind: kArgs, class: cTarget},
	"query_string":    {kind: kArgs, class: cTarget},
	"server_protocol": {kind: kProto, class: cTarget},
	"status":          {kind: kStatus, class: cDigits},
	"body_bytes_sent": {kind: kBytes, class: cDigits},
	"bytes_sent":      {kind: kBytes, class: cDigits},
	"http_referer":    {kind: kReferer},
	"http_user_agent": {kind: kAgent},
	"host":            {kind: kVHost, class: cHost},
	"server_name":     {kind: kVHost, class: cHost},
	"server_port":     {kind: kPort, class: cDigits},
	"request_time":    {kind: kSeconds, class: cNumber},

	"upstream_response_time": {kind: kUpstream},

	// Kept under Fields; listed for their shape.
	"realip_remote_addr":    {class: cHost},
	"server_addr":           {class: cHost},
	"hostname":              {class: cHost},
	"http_host":             {class: cHost},
	"remote_port":           {class: cDigits},
	"realip_remote_port":    {class: cDigits},
	"request_length":        {class: cDigits},
	"content_length":        {class: cDigits},
	"connection":            {class: cDigits},
	"connection_requests":   {class: cDigits},
	"pid":                   {class: cDigits},
	"scheme":                {class: cLetters},
	"https":                 {class: cLetters},
	"pipe":                  {width: 1}, // "p" or "."
	"request_id":            {class: cWord},
	"gzip_ratio":            {class: cNumber},
	"upstream_cache_status": {class: cLetters},
}

// lookupVar returns how to read the nginx variable name, which must be
// in lower case.
func lookupVar(name string) nginxVar {
	if v, ok := nginxVars[name]; ok {
		return v
	}
	if strings.HasPrefix(name, "arg_") || strings.HasPrefix(name, "cookie_") {
		return nginxVar{class: cTarget}
	}
	return nginxVar{}
}
