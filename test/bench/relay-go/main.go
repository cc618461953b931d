// Go peers for comparing fedlet's stream relay with a Go one on the same traffic, without a sandbox:
// "upper" is a Go TLS client like the upper API server (it can read slowly, -rate, as the upper API
// server does while it translates exec and port-forward streams), "lower" a Go TLS server like the lower
// API server (it writes SPDY-style frames, a 4-byte and a 4-byte write before each data write, each its
// own TLS record, as spdystream does; port-forward echoes one write per read, as Go proxies do), and
// "relay" an io.Copy relay standing in for the Go hop. Driven by ab.sh; not part of any build.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

var (
	mode   = flag.String("mode", "", "lower|relay|upper")
	listen = flag.String("listen", "127.0.0.1:0", "")
	target = flag.String("target", "", "")
	certF  = flag.String("cert", "", "")
	keyF   = flag.String("key", "", "")
	kind   = flag.String("kind", "exec", "exec|pf")
	mib    = flag.Int("mib", 64, "")
	chunk  = flag.Int("chunk", 32*1024, "data frame size")
	pid    = flag.Int("pid", 0, "relay pid to measure")
	rounds = flag.Int("rounds", 3, "measured sessions")
	warm   = flag.Int("warm", 1, "unmeasured sessions first")
	rate   = flag.Float64("rate", 0, "upper reads at most this many MiB/s (a slow upper API server)")
	frames = flag.Bool("frames", true, "write 4+4 byte headers as separate writes (spdystream)")
)

func serverConf() *tls.Config {
	c, err := tls.LoadX509KeyPair(*certF, *keyF)
	if err != nil {
		panic(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{c}}
}

func clientConf() *tls.Config {
	pem, _ := os.ReadFile(*certF)
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(pem)
	c, _ := tls.LoadX509KeyPair(*certF, *keyF)
	return &tls.Config{RootCAs: p, Certificates: []tls.Certificate{c}}
}

func readHead(r *bufio.Reader) string {
	var sb strings.Builder
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			panic(err)
		}
		sb.WriteString(l)
		if l == "\r\n" {
			return sb.String()
		}
	}
}

// writeFrames writes n bytes as spdystream does: stream id, flags+length, data, each a write of its own.
func writeFrames(w io.Writer, n int) error {
	data := make([]byte, *chunk)
	for i := range data {
		data[i] = byte(i * 7)
	}
	hdr := make([]byte, 4)
	for sent := 0; sent < n; sent += len(data) {
		if *frames {
			binary.BigEndian.PutUint32(hdr, 1)
			if _, err := w.Write(hdr); err != nil {
				return err
			}
			binary.BigEndian.PutUint32(hdr, uint32(len(data)))
			if _, err := w.Write(hdr); err != nil {
				return err
			}
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
	return nil
}

func lower() {
	serve(func(c net.Conn) {
		defer c.Close()
		br := bufio.NewReader(c)
		head := readHead(br)
		if strings.Contains(head, "/log") {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"))
			writeFrames(c, *mib<<20)
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n"))
		if strings.Contains(head, "/exec") {
			writeFrames(c, *mib<<20)
			time.Sleep(100 * time.Millisecond)
			return
		}
		// port-forward: echo, as a Go proxy chain does (one write per read)
		io.Copy(c, br)
	})
}

func relay() {
	serve(func(c net.Conn) {
		defer c.Close()
		l, err := tls.Dial("tcp", *target, clientConf())
		if err != nil {
			panic(err)
		}
		defer l.Close()
		done := make(chan struct{}, 2)
		go func() { io.Copy(l, c); done <- struct{}{} }()
		go func() { io.Copy(c, l); done <- struct{}{} }()
		<-done
	})
}

// serve listens with TLS on -listen, prints the port, and runs handle for each connection.
func serve(handle func(c net.Conn)) {
	ln, err := tls.Listen("tcp", *listen, serverConf())
	if err != nil {
		panic(err)
	}
	fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		go handle(c)
	}
}

func cpu(p int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	k, _ := strconv.ParseFloat(f[12], 64)
	return (u + k) / 100
}

func session() {
	c, err := tls.Dial("tcp", *target, clientConf())
	if err != nil {
		panic(err)
	}
	defer c.Close()
	path := "/exec/ns/pod/c?command=cat&output=1"
	if *kind == "pf" {
		path = "/portForward/ns/pod"
	}
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n", path)
	br := bufio.NewReaderSize(c, 64*1024)
	readHead(br)
	n := *mib << 20
	if *kind == "pf" {
		go writeFrames(c, n) // echoed back, frame headers and all
	}
	want := n
	if *frames {
		want = n + (n / *chunk)*8
	}
	buf := make([]byte, 32*1024)
	got := 0
	t0 := time.Now()
	for got < want {
		if *rate > 0 {
			ahead := time.Duration(float64(got)/(*rate*1048576)*1e9) - time.Since(t0)
			if ahead > 0 {
				time.Sleep(ahead)
			}
		}
		m, err := br.Read(buf)
		if err != nil {
			panic(fmt.Sprintf("got %d of %d: %v", got, want, err))
		}
		got += m
	}
}

func upper() {
	for i := 0; i < *warm; i++ {
		session()
	}
	for i := 0; i < *rounds; i++ {
		c0 := cpu(*pid)
		t0 := time.Now()
		session()
		d := time.Since(t0).Seconds()
		fmt.Printf("%s %.2f ms/MiB %.0f MiB/s\n", *kind, (cpu(*pid)-c0)*1000/float64(*mib), float64(*mib)/d)
	}
}

func main() {
	flag.Parse()
	switch *mode {
	case "lower":
		lower()
	case "relay":
		relay()
	case "upper":
		upper()
	}
}
