using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Mixer.Testing;

/// <summary>A document the stand-in accepted.</summary>
/// <param name="Index">The index it was sent to.</param>
/// <param name="Source">The document.</param>
public sealed record IndexedDocument(string Index, JsonElement Source);

/// <summary>
/// No Elasticsearch server can be installed on these machines, so tests talk to this loopback
/// stand-in instead. It speaks the part of the protocol bulk indexing uses: <c>POST /_bulk</c>
/// with an NDJSON body (checked line by line: an <c>index</c> or <c>create</c> action naming
/// <c>_index</c>, then a JSON object, every line ending in a newline; gzip bodies are read as
/// Elasticsearch reads them), answered item by item in
/// Elasticsearch's format, with the <c>X-Elastic-Product</c> header the official client insists
/// on. Tests script it to reject whole requests (429, 5xx), fail single items, or answer slowly.
/// </summary>
public sealed class ElasticsearchStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _lock = new();
    private readonly List<IndexedDocument> _documents = [];
    private readonly List<string> _problems = [];
    private readonly Queue<int> _requestAnswers = new();
    private readonly Dictionary<string, int> _seen = new(StringComparer.Ordinal);
    private int _requests;

    private ElasticsearchStandIn(WebApplication app) => _app = app;

    /// <summary><c>http://127.0.0.1:PORT</c>.</summary>
    public string Url { get; private set; } = string.Empty;

    /// <summary>
    /// Each item's answer: given the document and how many times this exact document has now been
    /// received (1 the first time), the status to answer (201 indexes it). Default: always 201.
    /// </summary>
    public Func<JsonElement, int, int> ItemStatus { get; set; } = static (_, _) => 201;

    /// <summary>How long each _bulk request takes to answer (a slow cluster).</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Documents indexed so far.</summary>
    public IReadOnlyList<IndexedDocument> Documents
    {
        get
        {
            lock (_lock)
            {
                return [.. _documents];
            }
        }
    }

    /// <summary>What was wrong with requests that did not follow the _bulk wire format (empty when all did).</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_lock)
            {
                return [.. _problems];
            }
        }
    }

    /// <summary>How many _bulk requests arrived.</summary>
    public int Requests => Volatile.Read(ref _requests);

    /// <summary>Starts the stand-in on a free loopback port.</summary>
    public static async Task<ElasticsearchStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var standIn = new ElasticsearchStandIn(app);
        app.MapPost("/_bulk", standIn.BulkAsync);
        app.MapFallback(ctx =>
        {
            standIn.Problem($"unexpected request {ctx.Request.Method} {ctx.Request.Path}");
            ctx.Response.StatusCode = 404;
            return Task.CompletedTask;
        });
        await app.StartAsync().ConfigureAwait(false);
        standIn.Url = app.Urls.First().Replace("localhost", "127.0.0.1", StringComparison.Ordinal);
        return standIn;
    }

    /// <summary>Answers the next <paramref name="count"/> _bulk requests with <paramref name="status"/> as a whole.</summary>
    public void RejectNextRequests(int count, int status = 429)
    {
        lock (_lock)
        {
            for (var i = 0; i < count; i++)
            {
                _requestAnswers.Enqueue(status);
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> documents are indexed.</summary>
    public async Task<IReadOnlyList<IndexedDocument>> WaitForDocumentsAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (Documents.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{Documents.Count} of {count} documents indexed; problems: {string.Join("; ", Problems)}");
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        return Documents;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private void Problem(string text)
    {
        lock (_lock)
        {
            _problems.Add(text);
        }
    }

    private async Task BulkAsync(HttpContext ctx)
    {
        Interlocked.Increment(ref _requests);
        ctx.Response.Headers["X-Elastic-Product"] = "Elasticsearch";
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, ctx.RequestAborted).ConfigureAwait(false);
        }

        // Elasticsearch accepts gzip- and deflate-compressed bodies; the official client sends gzip.
        var encoding = ctx.Request.Headers.ContentEncoding.ToString();
        Stream input = encoding switch
        {
            "gzip" => new System.IO.Compression.GZipStream(ctx.Request.Body, System.IO.Compression.CompressionMode.Decompress),
            "deflate" => new System.IO.Compression.DeflateStream(ctx.Request.Body, System.IO.Compression.CompressionMode.Decompress),
            _ => ctx.Request.Body,
        };
        using var reader = new StreamReader(input, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(ctx.RequestAborted).ConfigureAwait(false);
        int? whole = null;
        lock (_lock)
        {
            if (_requestAnswers.Count > 0)
            {
                whole = _requestAnswers.Dequeue();
            }
        }

        if (whole is { } status)
        {
            await ErrorAsync(ctx, status, status == 429 ? "es_rejected_execution_exception" : "internal_server_error", "scripted rejection").ConfigureAwait(false);
            return;
        }

        var contentType = ctx.Request.ContentType ?? string.Empty;
        if (!contentType.Contains("x-ndjson", StringComparison.OrdinalIgnoreCase))
        {
            await BadRequestAsync(ctx, $"Content-Type '{contentType}' is not NDJSON").ConfigureAwait(false);
            return;
        }

        if (body.Length == 0 || body[^1] != '\n')
        {
            await BadRequestAsync(ctx, $"The bulk request must be terminated by a newline [\\n]; it ends '{body[Math.Max(0, body.Length - 60)..]}'").ConfigureAwait(false);
            return;
        }

        var lines = body[..^1].Split('\n');
        if (lines.Length % 2 != 0)
        {
            await BadRequestAsync(ctx, $"{lines.Length} lines: every action needs its document").ConfigureAwait(false);
            return;
        }

        var items = new List<object>();
        var errors = false;
        for (var i = 0; i < lines.Length; i += 2)
        {
            JsonElement action, source;
            try
            {
                action = JsonDocument.Parse(lines[i]).RootElement.Clone();
                source = JsonDocument.Parse(lines[i + 1]).RootElement.Clone();
            }
            catch (JsonException e)
            {
                await BadRequestAsync(ctx, $"line {i + 1}: {e.Message}").ConfigureAwait(false);
                return;
            }

            var op = action.ValueKind == JsonValueKind.Object ? action.EnumerateObject().ToList() : [];
            if (op.Count != 1 || op[0].Name is not ("index" or "create") || op[0].Value.ValueKind != JsonValueKind.Object
                || !op[0].Value.TryGetProperty("_index", out var indexProp) || indexProp.ValueKind != JsonValueKind.String)
            {
                await BadRequestAsync(ctx, $"line {i + 1}: '{lines[i]}' is not an index or create action naming _index").ConfigureAwait(false);
                return;
            }

            if (source.ValueKind != JsonValueKind.Object)
            {
                await BadRequestAsync(ctx, $"line {i + 2}: the document must be a JSON object").ConfigureAwait(false);
                return;
            }

            int seen;
            lock (_lock)
            {
                seen = _seen[lines[i + 1]] = _seen.GetValueOrDefault(lines[i + 1]) + 1;
            }

            var index = indexProp.GetString()!;
            var itemStatus = ItemStatus(source, seen);
            if (itemStatus is >= 200 and < 300)
            {
                lock (_lock)
                {
                    _documents.Add(new IndexedDocument(index, source));
                }

                items.Add(new Dictionary<string, object> { [op[0].Name] = new { _index = index, _id = Guid.NewGuid().ToString("N"), _version = 1, result = "created", status = itemStatus } });
            }
            else
            {
                errors = true;
                var type = itemStatus == 429 ? "es_rejected_execution_exception" : itemStatus >= 500 ? "internal_server_error" : "document_parsing_exception";
                items.Add(new Dictionary<string, object> { [op[0].Name] = new { _index = index, _id = Guid.NewGuid().ToString("N"), status = itemStatus, error = new { type, reason = "scripted item failure" } } });
            }
        }

        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(JsonSerializer.Serialize(new { took = 1, errors, items }), ctx.RequestAborted).ConfigureAwait(false);
    }

    private Task BadRequestAsync(HttpContext ctx, string reason)
    {
        Problem(reason);
        return ErrorAsync(ctx, 400, "illegal_argument_exception", reason);
    }

    private static Task ErrorAsync(HttpContext ctx, int status, string type, string reason)
    {
        ctx.Response.StatusCode = status;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(JsonSerializer.Serialize(new { error = new { root_cause = new[] { new { type, reason } }, type, reason }, status }), ctx.RequestAborted);
    }
}
