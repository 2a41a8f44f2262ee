// Command vcsim-virga starts govmomi's vCenter (or ESXi) simulator on loopback for virga's tests.
//
// It prints "VCSIM_URL <url>" on stdout once the SDK answers, then serves until it gets
// SIGINT/SIGTERM or its stdin is closed (so it never outlives the test process that started it).
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/simulator"
)

type options struct {
	listen, username, password, certFile, keyFile                              string
	esx, useTLS                                                                bool
	dcs, clusters, clusterHosts, hosts, vms, datastores, portgroups, templates int
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "loopback address:port to listen on (port 0 picks one)")
	flag.StringVar(&o.username, "username", "user", "login user name")
	flag.StringVar(&o.password, "password", "pass", "login password")
	flag.BoolVar(&o.esx, "esx", false, "simulate one standalone ESXi host instead of a vCenter")
	flag.BoolVar(&o.useTLS, "tls", true, "serve HTTPS with the simulator's self-signed certificate")
	flag.StringVar(&o.certFile, "cert", "", "PEM certificate to serve instead of the built-in one (with -key)")
	flag.StringVar(&o.keyFile, "key", "", "PEM private key of -cert")
	flag.IntVar(&o.dcs, "dc", 1, "datacenters")
	flag.IntVar(&o.clusters, "cluster", 1, "clusters per datacenter")
	flag.IntVar(&o.clusterHosts, "cluster-hosts", 3, "hosts per cluster")
	flag.IntVar(&o.hosts, "hosts", 1, "standalone hosts per datacenter")
	flag.IntVar(&o.vms, "vms", 2, "virtual machines per host and per cluster")
	flag.IntVar(&o.datastores, "ds", 1, "datastores")
	flag.IntVar(&o.portgroups, "pg", 1, "distributed port groups per datacenter")
	flag.IntVar(&o.templates, "templates", 1, "VMs turned into templates named virga-template-N")
	flag.Parse()
	return o
}

func model(o options) *simulator.Model {
	if o.esx {
		m := simulator.ESX()
		m.Datastore, m.Machine = o.datastores, o.vms
		return m
	}
	m := simulator.VPX()
	m.Datacenter, m.Cluster, m.ClusterHost, m.Host = o.dcs, o.clusters, o.clusterHosts, o.hosts
	m.Machine, m.Datastore, m.Portgroup = o.vms, o.datastores, o.portgroups
	return m
}

// makeTemplates powers off the first n VMs, renames them virga-template-N and marks them templates.
func makeTemplates(ctx context.Context, u *url.URL, n int) error {
	if n == 0 {
		return nil
	}
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		return err
	}
	defer func() { _ = c.Logout(ctx) }()
	finder := find.NewFinder(c.Client, true)
	dc, err := finder.DefaultDatacenter(ctx)
	if err != nil {
		dc, err = finder.Datacenter(ctx, "*")
		if err != nil {
			return err
		}
	}
	finder.SetDatacenter(dc)
	vms, err := finder.VirtualMachineList(ctx, "*")
	if err != nil {
		return err
	}
	for i := 0; i < n && i < len(vms); i++ {
		vm := vms[i]
		if t, err := vm.PowerOff(ctx); err == nil {
			_ = t.Wait(ctx)
		}
		t, err := vm.Rename(ctx, fmt.Sprintf("virga-template-%d", i))
		if err != nil {
			return err
		}
		if err := t.Wait(ctx); err != nil {
			return err
		}
		if err := vm.MarkAsTemplate(ctx); err != nil {
			return err
		}
	}
	return nil
}

func waitForEnd() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(eof)
	}()
	select {
	case <-stop:
	case <-eof:
	}
}

func main() {
	o := parseFlags()
	m := model(o)
	if err := m.Create(); err != nil {
		log.Fatalf("vcsim: create model: %v", err)
	}
	defer m.Remove()
	if o.useTLS {
		m.Service.TLS = new(tls.Config)
		if o.certFile != "" {
			pair, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
			if err != nil {
				log.Fatalf("vcsim: load -cert/-key: %v", err)
			}
			m.Service.TLS.Certificates = []tls.Certificate{pair}
		}
	}
	m.Service.Listen = &url.URL{Host: o.listen, User: url.UserPassword(o.username, o.password)}
	s := m.Service.NewServer()
	defer s.Close()
	admin := *s.URL
	admin.User = url.UserPassword(o.username, o.password)
	if err := makeTemplates(context.Background(), &admin, o.templates); err != nil {
		log.Printf("vcsim: make templates: %v", err)
		return
	}
	public := *s.URL
	public.User = nil
	fmt.Printf("VCSIM_URL %s\n", public.String())
	_ = os.Stdout.Sync()
	waitForEnd()
}
