using Mixer.Adapters.Elasticsearch;
using Mixer.Adapters.Policy;
using Mixer.Adapters.Prometheus;
using Mixer.Adapters.Quota;
using Mixer.Adapters.Script;
using Mixer.Adapters.Stdio;
using Mixer.Sdk.Adapters;

namespace Mixer.Hosting;

/// <summary>
/// The adapters compiled into Mixer: what mixs serves and what mixc validate checks config against.
/// One list, linked into both, so the two can never disagree about what a handler kind means.
/// </summary>
internal static class BuiltInAdapters
{
    public static IReadOnlyList<IAdapter> Create() =>
    [
        new DenierAdapter(),
        new ListCheckerAdapter(),
        new RbacAdapter(),
        new MemQuotaAdapter(),
        new RedisQuotaAdapter(),
        new StdioAdapter(),
        new PrometheusAdapter(),
        new ElasticsearchAdapter(),
        new ScriptAdapter(),
    ];
}
