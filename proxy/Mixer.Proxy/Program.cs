using Mixer.Proxy;

// mixer-proxy: the sidecar. See proxy/README.md for the YAML and the flags.
if (args.Length == 0 || args.Contains("--help") || args.Contains("-h"))
{
    Console.WriteLine("""
        mixer-proxy: a YARP sidecar that checks every request with Mixer and reports it.

        usage: mixer-proxy [--config proxy.yaml] [flags]   (flags override the YAML)

          --mixer HOST:PORT          mixs's gRPC address (default 127.0.0.1:9091)
          --policy FAIL_OPEN|FAIL_CLOSE   when Mixer cannot be reached (default FAIL_OPEN)
          --check true|false         Check before forwarding (default true)
          --report true|false        Report after the response (default true)
          --name NAME --namespace NS --service HOST --labels k=v,k2=v2   the workload's identity
          --inbound LISTEN=APP       an HTTP listener in front of the application
          --outbound LISTEN=UPSTREAM[@SERVICE_HOST]   an HTTP listener for calls out
          --tcp-inbound LISTEN=APP, --tcp-outbound LISTEN=UPSTREAM[@SERVICE_HOST]   TCP passthrough
          --admin HOST:PORT          /metrics and /healthz

        example:
          mixer-proxy --mixer 127.0.0.1:9091 --name ratings-v1 --namespace default \
            --service ratings.default.svc.cluster.local --labels app=ratings,version=v1 \
            --inbound 127.0.0.1:15001=127.0.0.1:8080 --admin 127.0.0.1:15000
        """);
    return args.Length == 0 ? 2 : 0;
}

ProxyConfig config;
try
{
    config = ProxyConfig.FromArgs(args);
}
catch (ProxyConfigException e)
{
    Console.Error.WriteLine("mixer-proxy: " + e.Message);
    return 2;
}

await using var proxy = await ProxyHost.StartAsync(config);
var listening = string.Join(", ", config.Listeners.Select(l => $"{l.Name} {l.Protocol} {proxy.Endpoint(l.Name)} -> {l.Upstream}"));
Console.WriteLine($"mixer-proxy listening: {listening}; mixer {(config.Check || config.Report ? config.Mixer : "off")}; check {config.Check}, report {config.Report}, policy {config.FailPolicy}" + (proxy.AdminUrl is { } a ? $"; admin {a}" : ""));
await proxy.WaitForShutdownAsync();
return 0;
