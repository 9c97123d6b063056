namespace Mixer.Testing;

/// <summary>
/// Istio 1.0 policy config used end to end: each scenario is keyed by destination.service so the
/// rules of one never touch the requests of another.
/// </summary>
public static class PolicyConfig
{
    public const string Denier = """
        apiVersion: config.istio.io/v1alpha2
        kind: denier
        metadata:
          name: denyall
          namespace: istio-system
        spec:
          status:
            code: 7
            message: Not allowed
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: checknothing
        metadata:
          name: denyrequest
          namespace: istio-system
        spec: {}
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: denysome
          namespace: istio-system
        spec:
          match: destination.service == "denied.svc" && request.headers["clnt"] == "abc"
          actions:
          - handler: denyall.denier
            instances: [denyrequest.checknothing]
        """;

    public const string Lists = """
        apiVersion: config.istio.io/v1alpha2
        kind: listchecker
        metadata:
          name: versions
          namespace: istio-system
        spec:
          overrides: ["v1", "v2"]
          blacklist: false
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: listentry
        metadata:
          name: appversion
          namespace: istio-system
        spec:
          value: source.labels["version"] | "none"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: checkversion
          namespace: istio-system
        spec:
          match: destination.service == "whitelist.svc"
          actions:
          - handler: versions.listchecker
            instances: [appversion.listentry]
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: handler
        metadata:
          name: badips
          namespace: istio-system
        spec:
          compiledAdapter: listchecker
          params:
            overrides: ["10.0.0.0/8", "192.168.1.7"]
            blacklist: true
            entryType: IP_ADDRESSES
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: instance
        metadata:
          name: sourceip
          namespace: istio-system
        spec:
          compiledTemplate: listentry
          params:
            value: source.ip | ip("0.0.0.0")
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: checkip
          namespace: istio-system
        spec:
          match: destination.service == "blacklist.svc"
          actions:
          - handler: badips
            instances: [ sourceip ]
        """;

    public const string Quota = """
        apiVersion: config.istio.io/v1alpha2
        kind: memquota
        metadata:
          name: handler
          namespace: istio-system
        spec:
          quotas:
          - name: requestcount.quota.istio-system
            maxAmount: 3
            validDuration: 2s
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: quota
        metadata:
          name: requestcount
          namespace: istio-system
        spec:
          dimensions:
            destination: destination.service | "unknown"
            source: source.labels["app"] | "unknown"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: quota
          namespace: istio-system
        spec:
          match: destination.service == "quota.svc"
          actions:
          - handler: handler.memquota
            instances: [requestcount.quota]
        """;

    public const string Rbac = """
        apiVersion: rbac.istio.io/v1alpha1
        kind: ServiceRole
        metadata:
          name: ratings-viewer
          namespace: default
        spec:
          rules:
          - services: ["ratings.default.svc.cluster.local"]
            methods: ["GET"]
        ---
        apiVersion: rbac.istio.io/v1alpha1
        kind: ServiceRoleBinding
        metadata:
          name: bind-ratings-viewer
          namespace: default
        spec:
          subjects:
          - user: "alice"
          roleRef:
            kind: ServiceRole
            name: ratings-viewer
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rbac
        metadata:
          name: handler
          namespace: istio-system
        spec:
          config_store_url: "k8s://"
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: authorization
        metadata:
          name: requestcontext
          namespace: istio-system
        spec:
          subject:
            user: source.user | ""
          action:
            namespace: destination.namespace | "default"
            service: destination.service | ""
            method: request.method | ""
            path: request.path | ""
        ---
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: rbaccheck
          namespace: istio-system
        spec:
          match: destination.service == "ratings.default.svc.cluster.local"
          actions:
          - handler: handler.rbac
            instances: [requestcontext.authorization]
        """;

    public const string Headers = """
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: headers
          namespace: istio-system
        spec:
          match: destination.service == "headers.svc"
          requestHeaderOperations:
          - name: x-user
            values:
            - request.headers["user"] | "anonymous"
          - name: x-internal
            operation: REMOVE
          responseHeaderOperations:
          - name: x-served-by
            values: [ '"mixer"' ]
            operation: APPEND
        """;

    public const string TeamRule = """
        apiVersion: config.istio.io/v1alpha2
        kind: rule
        metadata:
          name: team-a-only
          namespace: team-a
        spec:
          match: destination.service == "scoped.svc"
          actions:
          - handler: denyall.denier.istio-system
            instances: [denyrequest.checknothing.istio-system]
        """;
}
