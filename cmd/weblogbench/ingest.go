package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
)

// ingestFlag is what --ingest adds to a server command that has no
// {tokens}: weblogd's ingest token file.
const ingestFlag = " --ingest-token-file {tokens}"

// ingestTokens writes a token file with one fresh token into dir and
// returns its path and the token.
func ingestTokens(dir string) (path, token string, err error) {
	b := make([]byte, 32)
	rand.Read(b)
	token = hex.EncodeToString(b)
	path = filepath.Join(dir, "ingest-tokens")
	return path, token, os.WriteFile(path, []byte(token+" name=weblogbench\n"), 0o600)
}

// ingestStream is one POST /ingest whose body is everything written to
// it: the tool's lines go to the server over HTTP instead of into its log,
// from one client, in one chunked request.
type ingestStream struct {
	pw   *io.PipeWriter
	done chan error
	ans  struct {
		Lines int64  `json:"lines"`
		Error string `json:"error"`
	}
}

func startIngest(ctx context.Context, srv *server) *ingestStream {
	pr, pw := io.Pipe()
	is := &ingestStream{pw: pw, done: make(chan error, 1)}
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+srv.ep.http+"/ingest?source=weblogbench", pr)
		if err != nil {
			is.done <- err
			return
		}
		req.Header.Set("Authorization", "Bearer "+srv.ingestToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			pr.CloseWithError(err)
			is.done <- fmt.Errorf("POST /ingest: %w", err)
			return
		}
		defer resp.Body.Close()
		err = json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&is.ans)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("POST /ingest: %s: %s", resp.Status, is.ans.Error)
		}
		pr.CloseWithError(err)
		is.done <- err
	}()
	return is
}

func (is *ingestStream) Write(p []byte) (int, error) { return is.pw.Write(p) }

// finish ends the body and waits for the answer: the server's count must
// be every line written, warm-up lines included.
func (is *ingestStream) finish(written int64) error {
	is.pw.Close()
	if err := <-is.done; err != nil {
		return err
	}
	if is.ans.Lines != written {
		return fmt.Errorf("POST /ingest took %d lines, %d were sent", is.ans.Lines, written)
	}
	return nil
}
