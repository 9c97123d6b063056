using System.Globalization;
using System.Net;
using Mixer.Client;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Mixer.Proxy;

/// <summary>Which way a listener's traffic goes, relative to the workload (Istio's <c>context.reporter.kind</c>).</summary>
internal enum Direction
{
    /// <summary>Into the workload: the workload is the destination.</summary>
    Inbound,

    /// <summary>Out of the workload: the workload is the source.</summary>
    Outbound,
}

/// <summary>The workload the sidecar stands beside: its identity in source.* / destination.* attributes.</summary>
internal sealed class WorkloadConfig
{
    public string Name { get; set; } = "";

    public string Namespace { get; set; } = "default";

    /// <summary>The service host, e.g. <c>ratings.default.svc.cluster.local</c>.</summary>
    public string Service { get; set; } = "";

    public string? Uid { get; set; }

    public string? Principal { get; set; }

    public Dictionary<string, string> Labels { get; set; } = [];

    public string UidOrDefault => Uid ?? $"kubernetes://{Name}.{Namespace}";

    public string ServiceName => Service.Split('.')[0];

    public string ServiceNamespace => Service.Split('.') is { Length: > 1 } parts ? parts[1] : Namespace;
}

/// <summary>One loopback listener: where it listens, where it forwards, and how.</summary>
internal sealed class ListenerConfig
{
    public string Name { get; set; } = "";

    public Direction Direction { get; set; } = Direction.Inbound;

    /// <summary><c>http</c> (HTTP/1.1), <c>http2</c> (h2c, e.g. gRPC), both checked per request, or <c>tcp</c> (passthrough, checked per connection).</summary>
    public string Protocol { get; set; } = "http";

    /// <summary>host:port to listen on (loopback; port 0 picks one).</summary>
    public string Listen { get; set; } = "";

    /// <summary>host:port to forward to: the application (inbound) or the remote service (outbound).</summary>
    public string Upstream { get; set; } = "";

    /// <summary>The destination service host: needed for outbound listeners; inbound ones default to the workload's service.</summary>
    public string? Service { get; set; }

    public bool IsTcp => string.Equals(Protocol, "tcp", StringComparison.OrdinalIgnoreCase);
}

/// <summary>Istio's QuotaSpec: rules that say which quotas a request charges.</summary>
internal sealed class QuotaSpecConfig
{
    public string Name { get; set; } = "";

    public string Namespace { get; set; } = "";

    public List<QuotaRuleConfig> Rules { get; set; } = [];
}

internal sealed class QuotaRuleConfig
{
    /// <summary>Any one match (OR); an empty list matches every request.</summary>
    public List<AttributeMatchConfig> Match { get; set; } = [];

    public List<QuotaChargeConfig> Quotas { get; set; } = [];
}

internal sealed class AttributeMatchConfig
{
    /// <summary>Every clause must hold (AND): attribute name (or <c>request.headers[name]</c>) to a string match.</summary>
    public Dictionary<string, StringMatchConfig> Clause { get; set; } = [];
}

internal sealed class StringMatchConfig
{
    public string? Exact { get; set; }

    public string? Prefix { get; set; }

    public string? Regex { get; set; }
}

internal sealed class QuotaChargeConfig
{
    public string Quota { get; set; } = "";

    public long Charge { get; set; } = 1;
}

/// <summary>Istio's QuotaSpecBinding: which services the named QuotaSpecs apply to.</summary>
internal sealed class QuotaSpecBindingConfig
{
    public List<QuotaSpecRefConfig> QuotaSpecs { get; set; } = [];

    public List<IstioServiceConfig> Services { get; set; } = [];
}

internal sealed class QuotaSpecRefConfig
{
    public string Name { get; set; } = "";

    public string? Namespace { get; set; }
}

internal sealed class IstioServiceConfig
{
    public string? Name { get; set; }

    public string? Namespace { get; set; }

    /// <summary>The service host; when set, name and namespace are not consulted.</summary>
    public string? Service { get; set; }
}

internal sealed class CheckCacheConfig
{
    public int MaxEntries { get; set; } = CheckCache.DefaultMaxEntries;
}

internal sealed class ReportBatchConfig
{
    public int MaxEntries { get; set; } = 1000;

    public int MaxDelayMs { get; set; } = 1000;

    public int MaxPending { get; set; } = 10000;
}

/// <summary>The whole sidecar config (YAML, see proxy/README.md; command-line flags override it).</summary>
internal sealed class ProxyConfig
{
    /// <summary>mixs's gRPC address, host:port.</summary>
    public string Mixer { get; set; } = "127.0.0.1:9091";

    /// <summary>FAIL_OPEN (Istio's default) or FAIL_CLOSE.</summary>
    public string Policy { get; set; } = "FAIL_OPEN";

    public bool Check { get; set; } = true;

    public bool Report { get; set; } = true;

    public bool QuotaCache { get; set; } = true;

    public int CheckTimeoutMs { get; set; } = 1000;

    /// <summary>How often a TCP connection that stays open is reported (<c>connection.event: continue</c>); Istio's <c>report_interval</c>, 10 s.</summary>
    public int TcpReportIntervalMs { get; set; } = 10_000;

    /// <summary>host:port of the admin endpoint (/metrics, /healthz); empty: none.</summary>
    public string Admin { get; set; } = "";

    public WorkloadConfig Workload { get; set; } = new();

    public List<ListenerConfig> Listeners { get; set; } = [];

    public List<QuotaSpecConfig> QuotaSpecs { get; set; } = [];

    public List<QuotaSpecBindingConfig> QuotaSpecBindings { get; set; } = [];

    public CheckCacheConfig CheckCache { get; set; } = new();

    public ReportBatchConfig ReportBatch { get; set; } = new();

    public NetworkFailPolicy FailPolicy => string.Equals(Policy.Replace("-", "_", StringComparison.Ordinal), "FAIL_CLOSE", StringComparison.OrdinalIgnoreCase) ? NetworkFailPolicy.FailClose : NetworkFailPolicy.FailOpen;

    public static ProxyConfig FromYaml(string yaml)
    {
        var deserializer = new DeserializerBuilder()
            .WithNamingConvention(CamelCaseNamingConvention.Instance)
            .WithEnumNamingConvention(LowerCaseNamingConvention.Instance)
            .Build();
        return deserializer.Deserialize<ProxyConfig?>(yaml) ?? new ProxyConfig();
    }

    /// <summary>
    /// Reads <c>--config FILE</c> (YAML) and applies the other flags over it. Throws
    /// <see cref="ProxyConfigException"/> naming the flag or setting that is wrong.
    /// </summary>
    public static ProxyConfig FromArgs(IReadOnlyList<string> args)
    {
        var config = new ProxyConfig();
        var file = Value(args, "--config");
        if (file is not null)
        {
            try
            {
                config = FromYaml(File.ReadAllText(file));
            }
            catch (Exception e) when (e is IOException or YamlDotNet.Core.YamlException)
            {
                throw new ProxyConfigException($"--config {file}: {e.Message}");
            }
        }

        for (var i = 0; i < args.Count; i++)
        {
            var flag = args[i];
            if (!flag.StartsWith("--", StringComparison.Ordinal))
            {
                throw new ProxyConfigException($"unexpected argument '{flag}'");
            }

            if (i + 1 >= args.Count)
            {
                throw new ProxyConfigException($"{flag} needs a value");
            }

            var value = args[++i];
            switch (flag)
            {
                case "--config":
                    break;
                case "--mixer":
                    config.Mixer = value;
                    break;
                case "--policy":
                    config.Policy = value;
                    break;
                case "--check":
                    config.Check = Bool(flag, value);
                    break;
                case "--report":
                    config.Report = Bool(flag, value);
                    break;
                case "--admin":
                    config.Admin = value;
                    break;
                case "--name":
                    config.Workload.Name = value;
                    break;
                case "--namespace":
                    config.Workload.Namespace = value;
                    break;
                case "--service":
                    config.Workload.Service = value;
                    break;
                case "--labels":
                    foreach (var pair in value.Split(',', StringSplitOptions.RemoveEmptyEntries))
                    {
                        var kv = pair.Split('=', 2);
                        config.Workload.Labels[kv[0]] = kv.Length > 1 ? kv[1] : "";
                    }

                    break;
                case "--inbound" or "--outbound" or "--tcp-inbound" or "--tcp-outbound":
                    config.Listeners.Add(Listener(flag, value));
                    break;
                default:
                    throw new ProxyConfigException($"unknown flag {flag} (see mixer-proxy --help)");
            }
        }

        config.Validate();
        return config;
    }

    public void Validate()
    {
        var errors = new List<string>();
        if (!Endpoint.TryParse(Mixer, out _))
        {
            errors.Add($"mixer: '{Mixer}' is not host:port");
        }

        if (Policy.Replace("-", "_", StringComparison.Ordinal).ToUpperInvariant() is not ("FAIL_OPEN" or "FAIL_CLOSE"))
        {
            errors.Add($"policy: '{Policy}' must be FAIL_OPEN or FAIL_CLOSE");
        }

        if (CheckTimeoutMs <= 0)
        {
            errors.Add($"checkTimeoutMs: {CheckTimeoutMs} must be a positive number of milliseconds");
        }

        if (TcpReportIntervalMs <= 0)
        {
            errors.Add($"tcpReportIntervalMs: {TcpReportIntervalMs} must be a positive number of milliseconds (Istio's report_interval; 10000 by default)");
        }

        if (Admin.Length > 0 && !Endpoint.TryParse(Admin, out _))
        {
            errors.Add($"admin: '{Admin}' is not host:port");
        }

        if (Listeners.Count == 0)
        {
            errors.Add("listeners: at least one is needed (--inbound LISTEN=APP, --outbound LISTEN=UPSTREAM[@service], --tcp-inbound …)");
        }

        for (var i = 0; i < Listeners.Count; i++)
        {
            var l = Listeners[i];
            if (!Endpoint.TryParse(l.Listen, out _))
            {
                errors.Add($"listeners[{i}].listen: '{l.Listen}' is not host:port");
            }

            if (!Endpoint.TryParse(l.Upstream, out _))
            {
                errors.Add($"listeners[{i}].upstream: '{l.Upstream}' is not host:port");
            }

            if (l.Protocol is not ("http" or "http2" or "tcp"))
            {
                errors.Add($"listeners[{i}].protocol: '{l.Protocol}' must be http, http2 or tcp");
            }

            if (string.IsNullOrEmpty(l.Name))
            {
                l.Name = $"{l.Direction.ToString().ToLowerInvariant()}-{i}";
            }
        }

        for (var i = 0; i < QuotaSpecs.Count; i++)
        {
            for (var r = 0; r < QuotaSpecs[i].Rules.Count; r++)
            {
                foreach (var q in QuotaSpecs[i].Rules[r].Quotas)
                {
                    if (string.IsNullOrEmpty(q.Quota) || q.Charge <= 0)
                    {
                        errors.Add($"quotaSpecs[{i}].rules[{r}].quotas: each needs a quota name and a positive charge");
                    }
                }

                foreach (var m in QuotaSpecs[i].Rules[r].Match)
                {
                    foreach (var (attr, sm) in m.Clause)
                    {
                        if ((sm.Exact is null ? 0 : 1) + (sm.Prefix is null ? 0 : 1) + (sm.Regex is null ? 0 : 1) != 1)
                        {
                            errors.Add($"quotaSpecs[{i}].rules[{r}].match: clause '{attr}' needs exactly one of exact, prefix, regex");
                        }
                    }
                }
            }
        }

        foreach (var b in QuotaSpecBindings)
        {
            foreach (var s in b.QuotaSpecs)
            {
                if (!QuotaSpecs.Any(q => q.Name == s.Name))
                {
                    errors.Add($"quotaSpecBindings: quotaSpec '{s.Name}' is not defined under quotaSpecs");
                }
            }
        }

        if (errors.Count > 0)
        {
            throw new ProxyConfigException(string.Join(Environment.NewLine, errors));
        }
    }

    private static ListenerConfig Listener(string flag, string value)
    {
        var (spec, service) = value.Split('@', 2) is { Length: 2 } s ? (s[0], s[1]) : (value, null);
        var parts = spec.Split('=', 2);
        if (parts.Length != 2)
        {
            throw new ProxyConfigException($"{flag} '{value}': expected LISTEN=UPSTREAM, e.g. 127.0.0.1:15001=127.0.0.1:8080");
        }

        return new ListenerConfig
        {
            Direction = flag.EndsWith("inbound", StringComparison.Ordinal) ? Direction.Inbound : Direction.Outbound,
            Protocol = flag.StartsWith("--tcp", StringComparison.Ordinal) ? "tcp" : "http",
            Listen = parts[0],
            Upstream = parts[1],
            Service = service,
        };
    }

    private static bool Bool(string flag, string value) => value.ToLowerInvariant() switch
    {
        "true" or "on" or "1" => true,
        "false" or "off" or "0" => false,
        _ => throw new ProxyConfigException($"{flag}: '{value}' must be true or false"),
    };

    private static string? Value(IReadOnlyList<string> args, string flag)
    {
        for (var i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == flag)
            {
                return args[i + 1];
            }
        }

        return null;
    }
}

/// <summary>A config error, with a message naming the setting.</summary>
internal sealed class ProxyConfigException(string message) : Exception(message);

/// <summary>host:port parsing for the config.</summary>
internal static class Endpoint
{
    public static bool TryParse(string value, out IPEndPoint endpoint)
    {
        endpoint = null!;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return false;
        }

        var host = value[..colon].Trim('[', ']');
        if (host == "localhost")
        {
            host = "127.0.0.1";
        }

        if (!IPAddress.TryParse(host, out var ip))
        {
            return false;
        }

        endpoint = new IPEndPoint(ip, port);
        return true;
    }

    public static IPEndPoint Parse(string value) =>
        TryParse(value, out var e) ? e : throw new ProxyConfigException($"'{value}' is not host:port");
}
