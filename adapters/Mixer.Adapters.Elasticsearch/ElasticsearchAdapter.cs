using Elastic.Clients.Elasticsearch;
using Elastic.Transport;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Templates;

namespace Mixer.Adapters.Elasticsearch;

/// <summary>
/// The <c>elasticsearch</c> adapter (ours; Istio 1.0 had none): <c>logentry</c> and
/// <c>tracespan</c> instances become documents, indexed in the background with _bulk through
/// Elastic.Clients.Elasticsearch. Report only queues: a slow or dead cluster never slows it. Each
/// handler has a bounded queue (<c>bufferLimit</c>), a batch size and a flush interval; drops,
/// final failures, accepted documents and the queue length are exported through the host's
/// metrics (<c>mixer_adapter_dropped_total</c>, <c>mixer_adapter_failed_total</c>,
/// <c>mixer_adapter_sent_total</c>, <c>mixer_adapter_queue_length</c>).
/// </summary>
public sealed class ElasticsearchAdapter : Adapter<ElasticsearchParams>
{
    private readonly Func<ElasticsearchParams, IBulkClient>? _clients;

    /// <summary>An adapter that talks to the clusters its handlers name.</summary>
    public ElasticsearchAdapter()
    {
    }

    // Tests substitute the client to script answers without any HTTP.
    internal ElasticsearchAdapter(Func<ElasticsearchParams, IBulkClient> clients) => _clients = clients;

    /// <inheritdoc/>
    public override AdapterInfo Info { get; } = new("elasticsearch", "Indexes log entries and trace spans in Elasticsearch", ["logentry", "tracespan"]);

    /// <inheritdoc/>
    protected override void Validate(ElasticsearchParams p, ICollection<ConfigProblem> problems)
    {
        foreach (var problem in p.Validate())
        {
            problems.Add(problem);
        }
    }

    /// <inheritdoc/>
    protected override ValueTask<IHandler> BuildAsync(ElasticsearchParams p, HandlerContext context, CancellationToken cancellationToken)
    {
        var client = _clients?.Invoke(p) ?? new ElasticBulkClient(new ElasticsearchClient(Settings(p)));
        ElasticsearchLog.Built(context.Logger, context.HandlerName, p.Urls.Count, p.Index);
        return ValueTask.FromResult<IHandler>(new ElasticsearchHandler(new DocumentWriter(p, context.Time), new BulkSender(client, p, context)));
    }

    private static ElasticsearchClientSettings Settings(ElasticsearchParams p)
    {
        var uris = p.Urls.Select(u => new Uri(u)).ToList();
        NodePool pool = uris.Count == 1 ? new SingleNodePool(uris[0]) : new StaticNodePool(uris);
        var settings = new ElasticsearchClientSettings(pool)

            // Retries are ours (per batch and per document, with backoff); the transport fails fast.
            .MaximumRetries(0)
            .DisablePing()
            .RequestTimeout(p.RequestTimeout);
        if (p.ApiKey.Length > 0)
        {
            settings = settings.Authentication(new ApiKey(p.ApiKey));
        }
        else if (p.Username.Length > 0)
        {
            settings = settings.Authentication(new BasicAuthentication(p.Username, p.Password));
        }

        return settings;
    }
}

/// <summary>Turns each instance into a document and queues it; the sender does the rest.</summary>
internal sealed class ElasticsearchHandler(DocumentWriter documents, BulkSender sender) : ILogEntryHandler, ITraceSpanHandler
{
    public BulkSender Sender => sender;

    public ValueTask HandleLogEntryAsync(IReadOnlyList<LogEntryInstance> instances, CancellationToken cancellationToken)
    {
        for (var i = 0; i < instances.Count; i++)
        {
            sender.Enqueue(documents.LogEntry(instances[i]));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask HandleTraceSpanAsync(IReadOnlyList<TraceSpanInstance> instances, CancellationToken cancellationToken)
    {
        for (var i = 0; i < instances.Count; i++)
        {
            sender.Enqueue(documents.TraceSpan(instances[i]));
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync() => sender.DisposeAsync();
}
