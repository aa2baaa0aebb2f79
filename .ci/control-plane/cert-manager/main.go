// Command controller runs cert-manager's real controllers (the ones in
// github.com/cert-manager/cert-manager/pkg/controller, at the version pinned
// in go.mod) as a local process for rotor's end-to-end tests.
//
// Why this file exists: cert-manager's own main package lives in the nested
// module github.com/cert-manager/cert-manager/cmd/controller, which is never
// tagged and which the Go module proxy does not serve; only the root module
// (all controllers, issuers and the controller Context) is published. This is
// a minimal replacement for that main: it builds the controller
// ContextFactory the same way, starts every default-enabled controller (see
// enabledControllers) and the shared informers, and holds a Lease
// (kube-system/cert-manager-controller) for leader election. There is no
// webhook or cainjector: their mains are nested modules too.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	"github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	ingresses "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	cracme "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/acme"
	"github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	crca "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	crselfsigned "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	crvault "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/vault"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	certmetrics "github.com/cert-manager/cert-manager/pkg/controller/certificates/metrics"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	"github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	"github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	"github.com/cert-manager/cert-manager/pkg/controller/issuers"
	logf "github.com/cert-manager/cert-manager/pkg/logs"

	// Issuer implementations register themselves with pkg/issuer in init().
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
)

// enabledControllers is cert-manager's DefaultEnabledControllers list
// (internal/apis/config/controller/v1alpha1) without the Venafi
// CertificateRequest controller: its client library, github.com/Venafi/vcert,
// is not served by the Go module proxy this project can reach.
var enabledControllers = []string{
	issuers.ControllerName,
	clusterissuers.ControllerName,
	certmetrics.ControllerName,
	ingresses.ControllerName,
	acmeorders.ControllerName,
	acmechallenges.ControllerName,
	cracme.CRControllerName,
	approver.ControllerName,
	crca.CRControllerName,
	crselfsigned.CRControllerName,
	crvault.CRControllerName,
	trigger.ControllerName,
	issuing.ControllerName,
	keymanager.ControllerName,
	requestmanager.ControllerName,
	readiness.ControllerName,
	revisionmanager.ControllerName,
}

func main() {
	var (
		kubeconfig        = flag.String("kubeconfig", "", "kubeconfig file")
		clusterResourceNS = flag.String("cluster-resource-namespace", "cert-manager", "namespace for ClusterIssuer secrets")
		namespace         = flag.String("namespace", "", "only watch this namespace (all when empty)")
		leaderElect       = flag.Bool("leader-elect", true, "hold a Lease before running controllers")
		leaderNS          = flag.String("leader-election-namespace", "kube-system", "namespace of the leader election Lease")
		workers           = flag.Int("concurrent-workers", 5, "workers per controller")
		enableOwnerRef    = flag.Bool("enable-certificate-owner-ref", false, "set the Certificate as owner of its Secret")
	)
	klog.InitFlags(nil)
	flag.Parse()
	logf.InitLogs()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx = logf.NewContext(ctx, klog.Background(), "cert-manager")
	log := logf.FromContext(ctx)

	// Same values as cert-manager's controller configuration defaults.
	opts := controller.ContextOptions{
		Kubeconfig:         *kubeconfig,
		KubernetesAPIQPS:   20,
		KubernetesAPIBurst: 50,
		Namespace:          *namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        *clusterResourceNS,
			ClusterIssuerAmbientCredentials: true,
		},
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverImage:                 "quay.io/jetstack/cert-manager-acmesolver:unused",
			HTTP01SolverResourceRequestCPU:    resource.MustParse("10m"),
			HTTP01SolverResourceRequestMemory: resource.MustParse("64Mi"),
			HTTP01SolverResourceLimitsCPU:     resource.MustParse("100m"),
			HTTP01SolverResourceLimitsMemory:  resource.MustParse("64Mi"),
			ACMEHTTP01SolverRunAsNonRoot:      true,
			DNS01CheckAuthoritative:           true,
			DNS01CheckRetryPeriod:             10 * time.Second,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerKind:                 "Issuer",
			DefaultIssuerGroup:                "cert-manager.io",
			DefaultAutoCertificateAnnotations: []string{"kubernetes.io/tls-acme"},
			GatewayAPIExtraProtocols:          sets.New[string](),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           *enableOwnerRef,
			CopiedAnnotationPrefixes:                 []string{"*", "-kubectl.kubernetes.io/", "-fluxcd.io/", "-argocd.argoproj.io/"},
			CertificateRequestMinimumBackoffDuration: time.Hour,
			CertificateRequestMaximumBackoffDuration: 32 * time.Hour,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: 60},
	}

	factory, err := controller.NewContextFactory(ctx, opts)
	if err != nil {
		fail("building controller context", err)
	}
	// Build shares the informer factories of the ContextFactory.
	base, err := factory.Build()
	if err != nil {
		fail("building base context", err)
	}

	run := func(ctx context.Context) {
		var wg sync.WaitGroup
		for name, construct := range controller.Known() {
			if !slices.Contains(enabledControllers, name) {
				continue
			}
			if *namespace != "" && name == clusterissuers.ControllerName {
				continue
			}
			iface, err := construct(factory)
			if err != nil {
				fail("constructing controller "+name, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				log.Info("starting controller", "controller", name)
				if err := iface.Run(*workers, ctx); err != nil {
					fail("running controller "+name, err)
				}
			}()
		}
		base.SharedInformerFactory.Start(ctx.Done())
		base.KubeSharedInformerFactory.Start(ctx.Done())
		base.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())
		wg.Wait()
		log.Info("control loops exited")
	}

	if !*leaderElect {
		run(ctx)
		return
	}

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		fail("loading kubeconfig", err)
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	host, _ := os.Hostname()
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, *leaderNS, "cert-manager-controller",
		client.CoreV1(), client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: fmt.Sprintf("%s-%d", host, os.Getpid()), EventRecorder: base.Recorder})
	if err != nil {
		fail("creating leader election lock", err)
	}
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   60 * time.Second,
		RenewDeadline:   40 * time.Second,
		RetryPeriod:     15 * time.Second,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: run,
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					fail("leader election lost", nil)
				}
			},
		},
	})
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "cert-manager controller: %s: %v\n", what, err)
	os.Exit(1)
}
