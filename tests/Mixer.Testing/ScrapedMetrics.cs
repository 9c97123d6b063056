namespace Mixer.Testing;

/// <summary>Reads a counter from a Prometheus text endpoint (mixs's monitoring port, the proxy's admin port): one reader for every test.</summary>
public static class ScrapedMetrics
{
    private static readonly HttpClient s_http = new();

    /// <summary>The sum of every sample of <paramref name="name"/> whose labels contain all of <paramref name="labels"/>.</summary>
    public static async Task<double> ReadAsync(string url, string name, params string[] labels)
    {
        var text = await s_http.GetStringAsync(url + "/metrics");
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith('#') || !line.StartsWith(name, StringComparison.Ordinal))
            {
                continue;
            }

            var rest = line[name.Length..];
            if (rest.Length > 0 && rest[0] != '{' && rest[0] != ' ')
            {
                continue;
            }

            if (labels.All(l => rest.Contains(l, StringComparison.Ordinal)))
            {
                sum += double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return sum;
    }

    /// <summary>Check calls mixs has answered.</summary>
    public static Task<double> MixsChecksAsync(string monitoringUrl) => ReadAsync(monitoringUrl, "grpc_server_handled_total", "grpc_method=\"Check\"");

    /// <summary>Report calls mixs has answered.</summary>
    public static Task<double> MixsReportsAsync(string monitoringUrl) => ReadAsync(monitoringUrl, "grpc_server_handled_total", "grpc_method=\"Report\"");
}
