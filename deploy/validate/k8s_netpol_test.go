package validate

import (
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// k8sPod is a pod as NetworkPolicies see it: its namespace, that
// namespace's labels, and its own labels.
type k8sPod struct {
	Name      string // for messages
	Namespace string
	NSLabels  map[string]string
	Labels    map[string]string
}

// k8sNSLabels are the labels Kubernetes gives every namespace.
func k8sNSLabels(ns string) map[string]string {
	return map[string]string{"kubernetes.io/metadata.name": ns}
}

// Pods that deploy/k8s does not define but its policies must let through: as
// the NATS chart (release "nats"), CloudNativePG, CoreDNS and the usual
// Prometheus installations label them. The namespaces of Prometheus, the
// ingress controller and the collector are the placeholders of
// networkpolicies.yaml.
var (
	k8sNATSServerPod = k8sPod{Name: "NATS server", Namespace: k8sNamespace, NSLabels: k8sNSLabels(k8sNamespace),
		Labels: map[string]string{"app.kubernetes.io/name": "nats", "app.kubernetes.io/instance": "nats",
			"app.kubernetes.io/component": "nats"}}
	k8sDNSPod = k8sPod{Name: "kube-dns", Namespace: "kube-system", NSLabels: k8sNSLabels("kube-system"),
		Labels: map[string]string{"k8s-app": "kube-dns"}}
	k8sPrometheusPod = k8sPod{Name: "Prometheus", Namespace: "monitoring", NSLabels: k8sNSLabels("monitoring"),
		Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	k8sIngressPod = k8sPod{Name: "ingress controller", Namespace: "ingress-nginx", NSLabels: k8sNSLabels("ingress-nginx"),
		Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}}
)

// k8sPostgresPod is an instance of the CloudNativePG cluster named cluster.
func k8sPostgresPod(cluster string) k8sPod {
	return k8sPod{Name: "PostgreSQL (" + cluster + ")", Namespace: k8sNamespace, NSLabels: k8sNSLabels(k8sNamespace),
		Labels: map[string]string{"cnpg.io/cluster": cluster}}
}

// k8sAllows says whether the NetworkPolicies of namespace ns let src open a
// connection to dst on proto/port (dstPortName: the container port's name,
// for policies that name ports). Both ends count: src's egress, if src is
// in ns, and dst's ingress, if dst is in ns. It returns why not, otherwise.
func k8sAllows(pols map[string]*networkingv1.NetworkPolicy, ns string, src, dst k8sPod, proto corev1.Protocol,
	port int32, dstPortName string) (bool, string) {
	if src.Namespace == ns {
		if ok, why := k8sSide(pols, src, dst, networkingv1.PolicyTypeEgress, proto, port, dstPortName); !ok {
			return false, why
		}
	}
	if dst.Namespace == ns {
		if ok, why := k8sSide(pols, dst, src, networkingv1.PolicyTypeIngress, proto, port, dstPortName); !ok {
			return false, why
		}
	}
	return true, ""
}

// k8sSide checks one direction: the policies selecting self, of type dir,
// must have a rule admitting peer on the port. Pods no policy of that type
// selects are open in that direction.
func k8sSide(pols map[string]*networkingv1.NetworkPolicy, self, peer k8sPod, dir networkingv1.PolicyType,
	proto corev1.Protocol, port int32, portName string) (bool, string) {
	var selecting []string
	for _, name := range k8sSortedKeys(pols) {
		p := pols[name]
		if !k8sSelects(&p.Spec.PodSelector, self.Labels) || !k8sHasType(p, dir) {
			continue
		}
		selecting = append(selecting, name)
		if dir == networkingv1.PolicyTypeEgress {
			for _, r := range p.Spec.Egress {
				if k8sPortsAdmit(r.Ports, proto, port, portName) && k8sPeersAdmit(r.To, self.Namespace, peer) {
					return true, ""
				}
			}
		} else {
			for _, r := range p.Spec.Ingress {
				if k8sPortsAdmit(r.Ports, proto, port, portName) && k8sPeersAdmit(r.From, self.Namespace, peer) {
					return true, ""
				}
			}
		}
	}
	if len(selecting) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("no %s rule of the policies selecting %s (%v) admits %s on %s/%d",
		dir, self.Name, selecting, peer.Name, proto, port)
}

// k8sHasType says whether a policy governs direction dir (an empty
// policyTypes means Ingress, plus Egress when it has egress rules).
func k8sHasType(p *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) bool {
	if len(p.Spec.PolicyTypes) == 0 {
		return dir == networkingv1.PolicyTypeIngress || (dir == networkingv1.PolicyTypeEgress && len(p.Spec.Egress) > 0)
	}
	for _, t := range p.Spec.PolicyTypes {
		if t == dir {
			return true
		}
	}
	return false
}

// k8sPortsAdmit says whether a rule's ports include proto/port (no ports: all).
func k8sPortsAdmit(ports []networkingv1.NetworkPolicyPort, proto corev1.Protocol, port int32, name string) bool {
	if len(ports) == 0 {
		return true
	}
	for _, p := range ports {
		pp := corev1.ProtocolTCP
		if p.Protocol != nil {
			pp = *p.Protocol
		}
		if pp != proto {
			continue
		}
		switch {
		case p.Port == nil:
			return true
		case p.Port.Type == intstr.String:
			if name != "" && p.Port.StrVal == name {
				return true
			}
		case p.EndPort != nil:
			if port >= p.Port.IntVal && port <= *p.EndPort {
				return true
			}
		case p.Port.IntVal == port:
			return true
		}
	}
	return false
}

// k8sPeersAdmit says whether a rule's peers include pod (no peers: all).
// Address blocks never count: pods have no fixed address.
func k8sPeersAdmit(peers []networkingv1.NetworkPolicyPeer, policyNS string, pod k8sPod) bool {
	if len(peers) == 0 {
		return true
	}
	for _, p := range peers {
		if p.IPBlock != nil {
			continue
		}
		if p.NamespaceSelector == nil {
			if pod.Namespace != policyNS {
				continue
			}
		} else if !k8sSelects(p.NamespaceSelector, pod.NSLabels) {
			continue
		}
		if p.PodSelector == nil || k8sSelects(p.PodSelector, pod.Labels) {
			return true
		}
	}
	return false
}

// k8sSelects says whether a label selector matches a set of labels; an
// invalid selector matches nothing (TestK8sManifestsDecodeStrictly does not
// catch those; the callers' messages show the selector).
func k8sSelects(sel *metav1.LabelSelector, set map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(set))
}

// k8sSortedKeys returns a map's keys in order, for stable messages.
func k8sSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
