package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"

	"tape/ui"
)

const k8sDir = "../../deploy/k8s"

// TestKubernetesManifests decodes every manifest strictly into the
// Kubernetes API types (an unknown or misspelt field fails), since no
// cluster runs here, and checks what the web nodes need: readiness on
// /readyz, a grace period that covers preStop and the drain, a
// disruption budget over them, and arguments tape accepts.
func TestKubernetesManifests(t *testing.T) {
	var kz struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Namespace  string `json:"namespace"`
		Labels     []struct {
			Pairs map[string]string `json:"pairs"`
		} `json:"labels"`
		Resources []string `json:"resources"`
		Images    []struct {
			Name, NewName, NewTag string
		} `json:"images"`
	}
	strict(t, filepath.Join(k8sDir, "kustomization.yaml"), &kz)
	files, _ := filepath.Glob(filepath.Join(k8sDir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(kz.Resources, base) {
			t.Errorf("%s is not listed in kustomization.yaml", base)
		}
	}

	deployments := map[string]*appsv1.Deployment{}
	var pdbs []*policyv1.PodDisruptionBudget
	for _, res := range kz.Resources {
		path := filepath.Join(k8sDir, res)
		var meta struct{ Kind string }
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("kustomization.yaml lists %s: %v", res, err)
		}
		if err := yaml.Unmarshal(b, &meta); err != nil {
			t.Fatalf("%s: %v", res, err)
		}
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			strict(t, path, &d)
			deployments[d.Name] = &d
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			strict(t, path, &p)
			pdbs = append(pdbs, &p)
		case "Service":
			strict(t, path, &corev1.Service{})
		case "ConfigMap":
			strict(t, path, &corev1.ConfigMap{})
		case "Namespace":
			strict(t, path, &corev1.Namespace{})
		case "Job":
			var j batchv1.Job
			strict(t, path, &j)
			checkArgs(t, res, j.Spec.Template.Spec)
		default:
			t.Errorf("%s: kind %q not checked here", res, meta.Kind)
		}
	}

	web, ing := deployments["tape-web"], deployments["tape-ingest"]
	if web == nil || ing == nil {
		t.Fatalf("deployments %v: want tape-web and tape-ingest", slices.Collect(mapsKeys(deployments)))
	}
	for _, d := range []*appsv1.Deployment{web, ing} {
		checkArgs(t, d.Name, d.Spec.Template.Spec)
		if d.Spec.Template.Spec.SecurityContext == nil || d.Spec.Template.Spec.SecurityContext.RunAsNonRoot == nil || !*d.Spec.Template.Spec.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pods may run as root", d.Name)
		}
		c := d.Spec.Template.Spec.Containers[0]
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
			t.Errorf("%s: readiness probe %+v, want GET /readyz", d.Name, c.ReadinessProbe)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s: no CPU and memory requests", d.Name)
		}
		if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
			return e.Name == "TAPE_NODE_ID" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
		}) {
			t.Errorf("%s: TAPE_NODE_ID is not the pod's name: replicas would share one consumer group (web) or one log name", d.Name)
		}
	}

	// The grace period covers preStop and the drain, with room to stop.
	c := web.Spec.Template.Spec.Containers[0]
	drain := ui.DefaultDrain
	if v := flagValue(c.Args, "drain"); v != "" {
		var err error
		if drain, err = time.ParseDuration(v); err != nil {
			t.Fatalf("--drain %q: %v", v, err)
		}
	}
	var preStop time.Duration
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Errorf("web: no preStop sleep: the pod would get SIGTERM while endpoints still send it new streams")
	} else {
		preStop = time.Duration(c.Lifecycle.PreStop.Sleep.Seconds) * time.Second
	}
	grace := time.Duration(*web.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
	if grace < preStop+drain+5*time.Second {
		t.Errorf("web: terminationGracePeriodSeconds %s < preStop %s + drain %s + 5s: streams would be cut mid-drain", grace, preStop, drain)
	}

	// A disruption budget over the web nodes, letting one go at a time.
	found := false
	for _, p := range pdbs {
		sel := p.Spec.Selector.MatchLabels
		if sel["app.kubernetes.io/name"] == web.Spec.Template.Labels["app.kubernetes.io/name"] {
			found = true
			if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
				t.Errorf("web PDB maxUnavailable %v, want 1", p.Spec.MaxUnavailable)
			}
		}
	}
	if !found {
		t.Error("no PodDisruptionBudget selects the web nodes")
	}
}

// strict decodes the YAML file at path into v, failing on unknown fields.
func strict(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkArgs checks that a pod's tape arguments and TAPE_* variables are
// ones the command accepts.
func checkArgs(t *testing.T, name string, pod corev1.PodSpec) {
	t.Helper()
	c := pod.Containers[0]
	if len(c.Args) == 0 {
		t.Fatalf("%s: no args", name)
	}
	defined := commandFlags(t, c.Args[0])
	var out, errOut strings.Builder
	if err := runEnv(context.Background(), append(slices.Clone(c.Args), "-h"), environ{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("%s: tape %s does not parse: %v\n%s", name, strings.Join(c.Args, " "), err, errOut.String())
	}
	for _, e := range c.Env {
		if f, ok := strings.CutPrefix(e.Name, "TAPE_"); !ok || !defined[strings.ReplaceAll(strings.ToLower(f), "_", "-")] {
			t.Errorf("%s: environment %s is no flag of tape %s", name, e.Name, c.Args[0])
		}
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
