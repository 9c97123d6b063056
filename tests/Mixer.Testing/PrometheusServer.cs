using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace Mixer.Testing;

/// <summary>
/// A real Prometheus (the Debian package <c>prometheus</c>) on a free loopback port, scraping the
/// given targets every <c>scrapeInterval</c> with a generated config, storing into a temp folder.
/// Queries go through its HTTP API (<c>/api/v1/query</c>), as a dashboard's would. Dispose stops it.
/// </summary>
public sealed class PrometheusServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _dir;
    private readonly ProcessOutput _output = new();
    private readonly HttpClient _http = new();

    private PrometheusServer(Process process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Url = $"http://127.0.0.1:{port}";
    }

    /// <summary><c>http://127.0.0.1:PORT</c> of the Prometheus API.</summary>
    public string Url { get; }

    /// <summary>Where the binary is looked for: $PROMETHEUS, then /usr/bin/prometheus.</summary>
    public static string ServerPath => Environment.GetEnvironmentVariable("PROMETHEUS") is { Length: > 0 } p ? p : "/usr/bin/prometheus";

    /// <summary>What Prometheus printed.</summary>
    public string Output => _output.ToString();

    /// <summary>Starts Prometheus scraping <paramref name="targets"/> (<c>HOST:PORT</c>, path /metrics) and waits until it is ready.</summary>
    public static async Task<PrometheusServer> StartAsync(IEnumerable<string> targets, TimeSpan? scrapeInterval = null)
    {
        if (!File.Exists(ServerPath))
        {
            throw new InvalidOperationException($"prometheus not found at {ServerPath}; install the Debian package prometheus (test.sh does)");
        }

        var interval = $"{(int)(scrapeInterval ?? TimeSpan.FromMilliseconds(500)).TotalMilliseconds}ms";
        var dir = Path.Combine(Path.GetTempPath(), "mixer-prometheus-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var config = Path.Combine(dir, "prometheus.yml");
        await File.WriteAllTextAsync(config, $"""
            global:
              scrape_interval: {interval}
              scrape_timeout: {interval}
              evaluation_interval: {interval}
            scrape_configs:
            - job_name: mixer
              static_configs:
              - targets: [{string.Join(", ", targets.Select(t => $"'{t}'"))}]
            """).ConfigureAwait(false);

        for (var attempt = 0; ; attempt++)
        {
            var port = LoopbackPort.Free();
            var psi = new ProcessStartInfo(ServerPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { "--config.file=" + config, "--storage.tsdb.path=" + Path.Combine(dir, "data"), $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn" })
            {
                psi.ArgumentList.Add(a);
            }

            var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start prometheus");
            var server = new PrometheusServer(process, dir, port);
            process.OutputDataReceived += (_, e) => server._output.Add(e.Data);
            process.ErrorDataReceived += (_, e) => server._output.Add(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false))
            {
                return server;
            }

            var output = server.Output;
            await server.StopAsync().ConfigureAwait(false);
            if (attempt == 2)
            {
                Directory.Delete(dir, recursive: true);
                throw new InvalidOperationException($"prometheus did not start:\n{output}");
            }
        }
    }

    /// <summary>Runs an instant PromQL query; the result vector as (labels, value) pairs.</summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> QueryAsync(string promql)
    {
        using var response = await _http.GetAsync(new Uri($"{Url}/api/v1/query?query={Uri.EscapeDataString(promql)}")).ConfigureAwait(false);
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        using var doc = JsonDocument.Parse(text);
        var data = doc.RootElement;
        if (data.GetProperty("status").GetString() != "success")
        {
            throw new InvalidOperationException($"query '{promql}' failed: {text}");
        }

        var result = new List<(IReadOnlyDictionary<string, string>, double)>();
        var r = data.GetProperty("data").GetProperty("result");
        if (data.GetProperty("data").GetProperty("resultType").GetString() == "scalar")
        {
            result.Add((new Dictionary<string, string>(), double.Parse(r[1].GetString()!, CultureInfo.InvariantCulture)));
            return result;
        }

        foreach (var sample in r.EnumerateArray())
        {
            var labels = sample.GetProperty("metric").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? string.Empty);
            result.Add((labels, double.Parse(sample.GetProperty("value")[1].GetString()!, CultureInfo.InvariantCulture)));
        }

        return result;
    }

    /// <summary>
    /// Queries until <paramref name="done"/> holds for the result (scrapes arrive every interval);
    /// returns the last result, or throws with it after <paramref name="timeout"/>.
    /// </summary>
    public async Task<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>> WaitForAsync(
        string promql, Func<IReadOnlyList<(IReadOnlyDictionary<string, string> Labels, double Value)>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            var result = await QueryAsync(promql).ConfigureAwait(false);
            if (done(result))
            {
                return result;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"'{promql}' gave [{string.Join(", ", result.Select(x => $"{{{string.Join(",", x.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {x.Value}"))}]\n{Output}");
            }

            await Task.Delay(200).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StopAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }

        _process.Dispose();
    }



    private async Task<bool> WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var r = await _http.GetAsync(new Uri(Url + "/-/ready")).ConfigureAwait(false);
                if (r.IsSuccessStatusCode)
                {
                    return true;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100).ConfigureAwait(false);
        }

        return false;
    }

}
