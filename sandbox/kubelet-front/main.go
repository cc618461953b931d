// kubelet-front: a small HTTPS front for a kwok node's kubelet port, used by fedlet's tests.
//
// It serves the kubelet's exec endpoints itself and reverse-proxies every other path to the kwok
// server. kwok wraps a command's error before handing it back to the streaming library, so a
// non-zero exit code reaches the client as an internal error (kubectl exits 1). Here the
// executor returns a k8s.io/utils/exec ExitError, so the library reports reason NonZeroExitCode
// with the ExitCode cause, as a kubelet with a real container runtime does.
//
//	/exec/{namespace}/{pod}/{container}        GET, POST: run the command on this host
//	/exec/{namespace}/{pod}/{uid}/{container}  GET, POST: same
//	anything else                              proxied to --backend (logs, attach, portForward, ...)
package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// commandParam is the query parameter the kube-apiserver uses for each word of the command.
const commandParam = "command"

var logger = log.New(os.Stderr, "kubelet-front: ", log.LstdFlags|log.Lmicroseconds)

func main() {
	listen := flag.String("listen", "127.0.0.1:10250", "HTTPS address to serve on (ADDR:PORT)")
	backend := flag.String("backend", "", "URL of the kwok server that gets every non-exec request, e.g. https://127.0.0.1:10247")
	workdir := flag.String("exec-workdir", "", "working directory of executed commands (created if missing)")
	certFile := flag.String("cert", "", "PEM serving certificate (default: a self-signed ECDSA certificate made at start)")
	keyFile := flag.String("key", "", "PEM private key for --cert")
	idleTimeout := flag.Duration("stream-idle-timeout", 4*time.Hour, "idle timeout of exec streams (the kubelet's default is 4h)")
	creationTimeout := flag.Duration("stream-creation-timeout", remotecommand.DefaultStreamCreationTimeout, "how long to wait for the client's exec streams")
	flag.Parse()

	if *backend == "" || *workdir == "" {
		fmt.Fprintln(os.Stderr, "kubelet-front: --backend and --exec-workdir are required")
		flag.Usage()
		os.Exit(2)
	}
	if (*certFile == "") != (*keyFile == "") {
		logger.Fatal("--cert and --key go together")
	}
	backendURL, err := url.Parse(*backend)
	if err != nil || (backendURL.Scheme != "https" && backendURL.Scheme != "http") || backendURL.Host == "" {
		logger.Fatalf("--backend %q: want https://ADDR:PORT", *backend)
	}
	if err := os.MkdirAll(*workdir, 0o755); err != nil {
		logger.Fatalf("--exec-workdir: %v", err)
	}

	var cert tls.Certificate
	if *certFile != "" {
		cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
	} else {
		cert, err = selfSignedCert(*listen)
	}
	if err != nil {
		logger.Fatalf("serving certificate: %v", err)
	}

	f := &front{
		proxy:           newBackendProxy(backendURL),
		executor:        &localExecutor{dir: *workdir},
		idleTimeout:     *idleTimeout,
		creationTimeout: *creationTimeout,
	}
	srv := &http.Server{
		Handler:           logRequests(f),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          logger,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		// HTTP/1.1 only: exec, attach and port-forward are HTTP/1.1 upgrades, and a single protocol
		// keeps the proxy path simple.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		logger.Fatalf("listen: %v", err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		s := <-sig
		logger.Printf("%v: stopping", s)
		_ = srv.Close()
	}()
	logger.Printf("serving https://%s, exec in %s, everything else to %s", ln.Addr(), *workdir, backendURL)
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Fatalf("serve: %v", err)
	}
}

// front routes exec requests to the local executor and everything else to the backend.
type front struct {
	proxy           http.Handler
	executor        remotecommand.Executor
	idleTimeout     time.Duration
	creationTimeout time.Duration
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if parts[0] != "exec" {
		f.proxy.ServeHTTP(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var namespace, pod, uid, container string
	switch len(parts) {
	case 4:
		namespace, pod, container = parts[1], parts[2], parts[3]
	case 5:
		namespace, pod, uid, container = parts[1], parts[2], parts[3], parts[4]
	default:
		http.NotFound(w, r)
		return
	}
	if namespace == "" || pod == "" || container == "" {
		http.NotFound(w, r)
		return
	}
	opts, err := remotecommand.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	cmd := r.URL.Query()[commandParam]
	if len(cmd) == 0 {
		http.Error(w, "no command given", http.StatusBadRequest)
		return
	}
	// The same protocols a kubelet offers (v4..v1 over SPDY; WebSocket clients negotiate their
	// channel protocol inside the library). v5.channel.k8s.io is WebSocket-only: the kube-apiserver
	// translates it to SPDY v4 before calling a node that does not declare ExtendWebSocketsToKubelet.
	remotecommand.ServeExec(w, r, f.executor, namespace+"/"+pod, uid, container, cmd, opts,
		f.idleTimeout, f.creationTimeout, remotecommand.SupportedStreamingProtocols)
}

// newBackendProxy forwards requests, including HTTP upgrades (SPDY, WebSocket), to the kwok server.
func newBackendProxy(target *url.URL) http.Handler {
	transport := &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		// kwok serves a self-signed certificate.
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test-only front for kwok
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: transport,
		// Flush every write at once, so `kubectl logs -f` streams.
		FlushInterval: -1,
		ErrorLog:      logger,
		ModifyResponse: func(res *http.Response) error {
			// An upgrade's 101 goes straight onto the hijacked connection: note it for the log line.
			noteFrom(res.Request.Context()).setStatus(res.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			noteFrom(r.Context()).set("backend error: " + err.Error())
			w.WriteHeader(http.StatusBadGateway)
		},
	}
}

// localExecutor runs exec commands on this host, in one working directory.
type localExecutor struct {
	dir string
}

func (e *localExecutor) ExecInContainer(ctx context.Context, name, uid, container string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	if len(cmd) == 0 {
		return errors.New("no command given")
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Dir = e.dir
	c.Env = os.Environ()
	// Kill the whole process group (the child leads one, see below) when the context ends.
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }

	var err error
	if tty {
		c.Env = append(c.Env, "TERM=xterm") // as container runtimes do for a TTY exec
		err = runWithTTY(c, in, out, resize)
	} else {
		err = runWithPipes(c, in, out, errOut)
	}
	result := toExitError(cmd, err)
	switch ee := result.(type) {
	case nil:
		noteFrom(ctx).set("exit=0")
	case utilexec.CodeExitError:
		noteFrom(ctx).set(fmt.Sprintf("exit=%d", ee.Code))
	default:
		noteFrom(ctx).set("exec error: " + ee.Error())
	}
	return result
}

func runWithPipes(c *exec.Cmd, in io.Reader, out, errOut io.Writer) error {
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if out != nil {
		c.Stdout = out
	}
	if errOut != nil {
		c.Stderr = errOut
	}
	// A background child that keeps stdout/stderr open must not hold the exec forever.
	c.WaitDelay = 2 * time.Second
	var stdin io.WriteCloser
	if in != nil {
		var err error
		// A pipe of our own: Wait then does not wait for the client to close its stdin.
		if stdin, err = c.StdinPipe(); err != nil {
			return err
		}
	}
	if err := c.Start(); err != nil {
		return err
	}
	if stdin != nil {
		go func() {
			_, _ = io.Copy(stdin, in)
			_ = stdin.Close() // the client's EOF is the command's EOF
		}()
	}
	err := c.Wait()
	if errors.Is(err, exec.ErrWaitDelay) {
		return nil // exited 0; only a leftover child still held an output pipe
	}
	return err
}

func runWithTTY(c *exec.Cmd, in io.Reader, out io.Writer, resize <-chan remotecommand.TerminalSize) error {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return err
	}
	defer ptmx.Close()
	// The client sends its terminal size right after the streams are set up: apply it before the
	// command starts when it comes soon, so the command sees the right size from the beginning.
	if resize != nil {
		select {
		case size, ok := <-resize:
			if ok {
				setSize(ptmx, size)
			} else {
				resize = nil
			}
		case <-time.After(200 * time.Millisecond):
		}
	}
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = c.Start()
	_ = tty.Close()
	if err != nil {
		return err
	}
	stopResize := make(chan struct{})
	defer close(stopResize)
	if resize != nil {
		go func() {
			for {
				select {
				case size, ok := <-resize:
					if !ok {
						return
					}
					setSize(ptmx, size)
				case <-stopResize:
					return
				}
			}
		}()
	}
	if in != nil {
		go func() { _, _ = io.Copy(ptmx, in) }()
	}
	if out == nil {
		out = io.Discard
	}
	outDone := make(chan struct{})
	go func() {
		// Ends with EIO once every holder of the terminal has closed it.
		_, _ = io.Copy(out, ptmx)
		close(outDone)
	}()
	err = c.Wait()
	select {
	case <-outDone:
	case <-time.After(2 * time.Second): // a background child still holds the terminal
	}
	return err
}

func setSize(ptmx *os.File, size remotecommand.TerminalSize) {
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: size.Height, Cols: size.Width}); err != nil {
		logger.Printf("resize to %dx%d: %v", size.Width, size.Height, err)
	}
}

// toExitError turns the end of a command into what the streaming library understands: nil, an
// ExitError (reason NonZeroExitCode with the ExitCode cause), or any other error (InternalError).
func toExitError(cmd []string, err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return err // the command did not start, for instance
	}
	code := ee.ExitCode()
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		code = 128 + int(ws.Signal()) // what a container runtime reports for a killed process
	}
	return utilexec.CodeExitError{
		Err:  fmt.Errorf("command %q exited with code %d", cmd, code),
		Code: code,
	}
}

// selfSignedCert makes an in-memory ECDSA serving certificate for the listen address.
func selfSignedCert(listen string) (tls.Certificate, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "kubelet-front"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "" && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// note carries a short outcome (exit code, backend error) from a handler to the request's log line.
type note struct {
	mu     sync.Mutex
	text   string
	status int
}

func (n *note) setStatus(code int) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.status = code
	n.mu.Unlock()
}

func (n *note) set(s string) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.text = s
	n.mu.Unlock()
}

func (n *note) get() (string, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.text, n.status
}

type noteKey struct{}

func noteFrom(ctx context.Context) *note {
	n, _ := ctx.Value(noteKey{}).(*note)
	return n
}

// logRequests writes one line per request to stderr once the request is done.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := &note{}
		rec := &recorder{ResponseWriter: w}
		// Deferred: ReverseProxy ends a stream whose client went away (kubectl logs -f interrupted)
		// by panicking with http.ErrAbortHandler, which the server swallows; log those too.
		defer func() {
			p := recover()
			text, noted := n.get()
			status := "200"
			switch {
			case rec.status != 0:
				status = fmt.Sprint(rec.status)
			case noted != 0:
				status = fmt.Sprint(noted)
			case rec.hijacked:
				status = "hijacked" // the handler wrote its own response on the raw connection
			}
			line := fmt.Sprintf("%s %s %s %s %dB %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), status, rec.bytes, time.Since(start).Round(time.Millisecond))
			if up := r.Header.Get("Upgrade"); up != "" {
				line += " upgrade=" + up
			}
			if text != "" {
				line += " " + text
			}
			if p == http.ErrAbortHandler {
				line += " aborted"
			}
			logger.Print(line)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteKey{}, n)))
	})
}

// recorder notes status and size and passes Flush and Hijack through (upgrades need Hijack).
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	hijacked bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.hijacked = true
	}
	return conn, rw, err
}
