// testapp is the sandbox's own container program for real-node tests: one static binary whose first
// argument picks what it does, so a test states the container's behaviour in its pod spec.
//
//	testapp serve [PORT]          HTTP on PORT (default 8080): / (hostname, env as JSON), /echo?msg=, /healthz,
//	                              /ready (200, or 503 once /unready was requested: a readiness probe to fail)
//	testapp kv [PORT]             an in-memory key-value store on PORT (default 6379): GET /kv/KEY, PUT /kv/KEY
//	                              (body is the value), POST /kv/KEY (appends the body as a line), /healthz
//	testapp proxy PORT URL        relay every request but /healthz to URL (a base URL); replies carry X-Via: host
//	testapp guestbook PORT URL    a guestbook front end on PORT over the kv store at URL: /add?msg= appends
//	                              "msg (by host)" to key "entries", /entries lists them, /healthz
//	testapp exit CODE             print a line, exit with CODE
//	testapp crash SECONDS CODE    print a line, exit with CODE after SECONDS
//	testapp write MIB             write MIB MiB of numbered lines to stdout, then sleep
//	testapp tick MS               print "tick N" every MS milliseconds, forever
//	testapp oom MIB               allocate and touch MIB MiB (meant to exceed the memory limit), then sleep
//	testapp sleep SECONDS         sleep (0: forever)
//	testapp slowterm SECONDS      print "ready", on SIGTERM print "got SIGTERM", wait SECONDS, exit 0
//	testapp stdin                 print every stdin line as "got: LINE"; exit 0 at EOF
//	testapp cat FILE              print FILE (for exec probes and checks without a shell)
//	testapp get URL               print the body of an HTTP GET (busybox's wget crashes here); exit 1 on failure
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: testapp serve|kv|proxy|guestbook|exit|crash|write|tick|oom|sleep|slowterm|stdin|cat|get ARGS")
	}
	mode, args := os.Args[1], os.Args[2:]
	switch mode {
	case "serve":
		serve(argOr(args, 0, "8080"))
	case "kv":
		kv(argOr(args, 0, "6379"))
	case "proxy":
		proxy(argOr(args, 0, "8080"), argOr(args, 1, ""))
	case "guestbook":
		guestbook(argOr(args, 0, "8080"), argOr(args, 1, ""))
	case "exit":
		code := intArg(args, 0, 0)
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
	case "crash":
		secs, code := intArg(args, 0, 1), intArg(args, 1, 1)
		fmt.Printf("started; crashing with %d in %ds\n", code, secs)
		time.Sleep(time.Duration(secs) * time.Second)
		fmt.Printf("crashing with %d\n", code)
		os.Exit(code)
	case "write":
		write(intArg(args, 0, 1))
		sleepForever()
	case "tick":
		ms := intArg(args, 0, 500)
		for i := 1; ; i++ {
			fmt.Printf("tick %d\n", i)
			time.Sleep(time.Duration(ms) * time.Millisecond)
		}
	case "oom":
		oom(intArg(args, 0, 256))
	case "sleep":
		if secs := intArg(args, 0, 0); secs > 0 {
			time.Sleep(time.Duration(secs) * time.Second)
			return
		}
		sleepForever()
	case "slowterm":
		slowTerm(intArg(args, 0, 5))
	case "stdin":
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			fmt.Printf("got: %s\n", sc.Text())
		}
	case "cat":
		b, err := os.ReadFile(argOr(args, 0, ""))
		if err != nil {
			fail(err.Error())
		}
		os.Stdout.Write(b)
	case "get":
		get(argOr(args, 0, ""))
	default:
		fail("unknown mode " + mode)
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "testapp:", msg)
	os.Exit(2)
}

func argOr(args []string, i int, def string) string {
	if i < len(args) {
		return args[i]
	}
	return def
}

func intArg(args []string, i, def int) int {
	if i >= len(args) {
		return def
	}
	n, err := strconv.Atoi(args[i])
	if err != nil {
		fail(fmt.Sprintf("argument %q is not a number", args[i]))
	}
	return n
}

func sleepForever() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
}

func serve(port string) {
	host, _ := os.Hostname()
	var unready atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		env := os.Environ()
		sort.Strings(env)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"hostname": host, "env": env, "path": r.URL.Path})
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s from %s\n", r.URL.Query().Get("msg"), host)
	})
	mux.HandleFunc("/ready", func(w http.ResponseWriter, _ *http.Request) {
		if unready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.HandleFunc("/unready", func(w http.ResponseWriter, _ *http.Request) {
		unready.Store(true)
		fmt.Fprintf(w, "%s is no longer ready\n", host)
	})
	listen(port, host, mux)
}

// listen serves mux (plus /healthz) on port until SIGTERM or SIGINT.
func listen(port, host string, mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		_ = srv.Close()
	}()
	fmt.Printf("serving on :%s as %s\n", port, host)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fail(err.Error())
	}
}

func kv(port string) {
	host, _ := os.Hostname()
	var mu sync.Mutex
	store := map[string]string{}
	mux := http.NewServeMux()
	mux.HandleFunc("/kv/", func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimPrefix(r.URL.Path, "/kv/")
		if key == "" {
			http.Error(w, "no key", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch r.Method {
		case http.MethodGet:
			v, ok := store[key]
			if !ok {
				http.Error(w, "no such key", http.StatusNotFound)
				return
			}
			fmt.Fprint(w, v)
		case http.MethodPut, http.MethodPost:
			b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if r.Method == http.MethodPut {
				store[key] = string(b)
			} else {
				store[key] += strings.TrimSuffix(string(b), "\n") + "\n"
			}
			fmt.Fprintln(w, "stored")
		default:
			http.Error(w, "GET, PUT or POST", http.StatusMethodNotAllowed)
		}
	})
	listen(port, host, mux)
}

func upstream(raw string) *url.URL {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		fail(fmt.Sprintf("upstream %q is not a base URL such as http://store:6379", raw))
	}
	return u
}

func proxy(port, target string) {
	host, _ := os.Hostname()
	rp := httputil.NewSingleHostReverseProxy(upstream(target))
	rp.ModifyResponse = func(r *http.Response) error {
		r.Header.Add("X-Via", host)
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/", rp)
	listen(port, host, mux)
}

func guestbook(port, store string) {
	host, _ := os.Hostname()
	entries := upstream(store).JoinPath("kv", "entries").String()
	c := &http.Client{Timeout: 10 * time.Second}
	relay := func(w http.ResponseWriter, resp *http.Response, err error) {
		if err != nil {
			http.Error(w, "store: "+err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		line := fmt.Sprintf("%s (by %s)\n", r.URL.Query().Get("msg"), host)
		resp, err := c.Post(entries, "text/plain", strings.NewReader(line))
		relay(w, resp, err)
	})
	mux.HandleFunc("/entries", func(w http.ResponseWriter, _ *http.Request) {
		resp, err := c.Get(entries)
		relay(w, resp, err)
	})
	listen(port, host, mux)
}

func write(mib int) {
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	line := strings.Repeat("x", 100)
	total := mib << 20
	for n, i := 0, 0; n < total; i++ {
		k, _ := fmt.Fprintf(w, "%08d %s\n", i, line)
		n += k
	}
	_ = w.Flush()
	fmt.Printf("wrote %d MiB\n", mib)
}

func oom(mib int) {
	fmt.Printf("allocating %d MiB\n", mib)
	var keep [][]byte
	for i := 0; i < mib; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(j)
		}
		keep = append(keep, b)
	}
	fmt.Printf("allocated %d MiB\n", len(keep))
	sleepForever()
}

func slowTerm(secs int) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	fmt.Println("ready")
	<-sig
	fmt.Printf("got SIGTERM; exiting in %ds\n", secs)
	time.Sleep(time.Duration(secs) * time.Second)
	fmt.Println("exiting")
}

func get(url string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(os.Stdout, resp.Body)
	if resp.StatusCode >= 400 {
		fmt.Fprintln(os.Stderr, "testapp: HTTP", resp.Status)
		os.Exit(1)
	}
}
