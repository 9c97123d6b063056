using System.Globalization;
using Mixer.Sdk.Adapters;

namespace Mixer.Adapters.Elasticsearch;

/// <summary>
/// The elasticsearch adapter's params. Istio 1.0 had no such adapter; these follow its style
/// (camelCase, Go durations, defaults that work out of the box against a local cluster).
/// </summary>
public sealed class ElasticsearchParams
{
    /// <summary>Cluster nodes; requests round-robin over them and fail over to the next.</summary>
    public List<string> Urls { get; set; } = ["http://localhost:9200"];

    /// <summary>Basic authentication user (with <see cref="Password"/>).</summary>
    public string Username { get; set; } = string.Empty;

    public string Password { get; set; } = string.Empty;

    /// <summary>An API key, encoded as Elasticsearch and Kibana show it (base64 of <c>id:key</c>); instead of basic auth.</summary>
    public string ApiKey { get; set; } = string.Empty;

    /// <summary>
    /// The index of each document: <c>{template}</c> is <c>logentry</c> or <c>tracespan</c>,
    /// <c>{instance}</c> the instance's short name, any other <c>{…}</c> a .NET date format applied
    /// to the document's timestamp in UTC. Default: daily indices per template.
    /// </summary>
    public string Index { get; set; } = "istio-{template}-{yyyy.MM.dd}";

    /// <summary>The document field that holds the timestamp.</summary>
    public string TimestampField { get; set; } = "@timestamp";

    /// <summary>Renames: log entry variable (or span tag) name to document field name.</summary>
    public Dictionary<string, string> FieldNames { get; set; } = [];

    /// <summary>Most documents per _bulk request.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>Longest a document waits for its batch to fill before the batch is sent anyway.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most documents held waiting to be sent; beyond it new ones are dropped and counted.</summary>
    public int BufferLimit { get; set; } = 10_000;

    /// <summary>How many times a rejected (429), failed (5xx) or unreachable batch or document is sent again.</summary>
    public int MaxRetries { get; set; } = 5;

    /// <summary>Wait before the first retry; doubled each time up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest one _bulk request may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    public List<ConfigProblem> Validate()
    {
        var problems = new List<ConfigProblem>();
        if (Urls.Count == 0)
        {
            problems.Add(new ConfigProblem("urls", "give at least one node URL, e.g. http://localhost:9200"));
        }

        for (var i = 0; i < Urls.Count; i++)
        {
            if (!Uri.TryCreate(Urls[i], UriKind.Absolute, out var u) || u.Scheme is not ("http" or "https"))
            {
                problems.Add(new ConfigProblem($"urls[{i}]", $"'{Urls[i]}' is not an http:// or https:// URL"));
            }
        }

        if (Username.Length > 0 != Password.Length > 0)
        {
            problems.Add(new ConfigProblem(Username.Length > 0 ? "password" : "username", "basic authentication needs both username and password"));
        }

        if (ApiKey.Length > 0 && Username.Length > 0)
        {
            problems.Add(new ConfigProblem("apiKey", "give either apiKey or username/password, not both"));
        }

        if (IndexPattern.TryParse(Index, out var error) is null)
        {
            problems.Add(new ConfigProblem("index", error!));
        }

        if (string.IsNullOrWhiteSpace(TimestampField))
        {
            problems.Add(new ConfigProblem("timestampField", "must not be empty"));
        }

        Positive(problems, "batchSize", BatchSize);
        Positive(problems, "bufferLimit", BufferLimit);
        if (MaxRetries < 0)
        {
            problems.Add(new ConfigProblem("maxRetries", "must be >= 0"));
        }

        foreach (var (name, value) in new[] { ("flushInterval", FlushInterval), ("initialBackoff", InitialBackoff), ("maxBackoff", MaxBackoff), ("requestTimeout", RequestTimeout) })
        {
            if (value <= TimeSpan.Zero)
            {
                problems.Add(new ConfigProblem(name, "must be a duration > 0 (e.g. 1s, 500ms)"));
            }
        }

        if (MaxBackoff < InitialBackoff)
        {
            problems.Add(new ConfigProblem("maxBackoff", "must not be shorter than initialBackoff"));
        }

        return problems;
    }

    private static void Positive(List<ConfigProblem> problems, string field, int value)
    {
        if (value <= 0)
        {
            problems.Add(new ConfigProblem(field, $"must be > 0, not {value.ToString(CultureInfo.InvariantCulture)}"));
        }
    }
}

/// <summary>A parsed index pattern: literal text, <c>{template}</c>, <c>{instance}</c> and date formats.</summary>
internal sealed class IndexPattern
{
    private readonly List<(string Text, char Kind)> _parts;

    private IndexPattern(List<(string, char)> parts) => _parts = parts;

    /// <summary>The pattern, or null with the reason.</summary>
    public static IndexPattern? TryParse(string pattern, out string? error)
    {
        var parts = new List<(string, char)>();
        var i = 0;
        while (i < pattern.Length)
        {
            var open = pattern.IndexOf('{', i);
            if (open < 0)
            {
                parts.Add((pattern[i..], 'L'));
                break;
            }

            if (open > i)
            {
                parts.Add((pattern[i..open], 'L'));
            }

            var close = pattern.IndexOf('}', open);
            if (close < 0)
            {
                error = $"'{pattern}': '{{' at {open} is not closed";
                return null;
            }

            var token = pattern[(open + 1)..close];
            parts.Add(token switch
            {
                "template" => (token, 'T'),
                "instance" => (token, 'I'),
                _ => (token, 'D'),
            });
            i = close + 1;
        }

        var result = new IndexPattern(parts);
        try
        {
            var sample = result.Format("logentry", "accesslog.logentry.istio-system", new DateTimeOffset(2018, 7, 31, 12, 0, 0, TimeSpan.Zero));
            if (sample.Length == 0 || sample.Any(char.IsUpper) || sample.IndexOfAny(['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) >= 0 || sample[0] is '-' or '_' or '+')
            {
                error = $"'{pattern}' gives '{sample}', which is not an Elasticsearch index name (lowercase, no spaces or \\/*?\"<>|,#:, not starting with -, _ or +)";
                return null;
            }
        }
        catch (FormatException e)
        {
            error = $"'{pattern}': {e.Message}";
            return null;
        }

        error = null;
        return result;
    }

    public string Format(string template, string instance, DateTimeOffset time)
    {
        var text = new System.Text.StringBuilder();
        foreach (var (t, kind) in _parts)
        {
            text.Append(kind switch
            {
                'L' => t,
                'T' => template,
                'I' => instance.Split('.')[0].ToLowerInvariant(),
                _ => time.UtcDateTime.ToString(t, CultureInfo.InvariantCulture),
            });
        }

        return text.ToString();
    }
}
