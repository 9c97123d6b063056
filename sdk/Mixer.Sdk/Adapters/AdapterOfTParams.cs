using System.Text.Json;

namespace Mixer.Sdk.Adapters;

/// <summary>
/// The usual way to write an adapter: declare its params as a class, check them in
/// <see cref="Validate(TParams, ICollection{ConfigProblem})"/>, and build a handler from them in
/// <see cref="BuildAsync(TParams, HandlerContext, CancellationToken)"/>. Reading the params JSON
/// (camelCase names, Go durations, enums by their Istio names, unknown fields rejected with the
/// field's path) is done for you by <see cref="AdapterParams"/>, so a typo in an operator's YAML is
/// reported as a config error naming the field, and the handler is only ever built from params that
/// validated.
/// </summary>
/// <typeparam name="TParams">
/// The adapter's params (Istio's <c>Params</c> message): a class with settable properties and a
/// parameterless constructor whose defaults are the adapter's defaults.
/// </typeparam>
/// <example>
/// <code>
/// public sealed class AllowAllAdapter : Adapter&lt;AllowAllParams&gt;
/// {
///     public override AdapterInfo Info { get; } = new("allowall", "Lets everything through", ["checknothing"]);
///
///     protected override void Validate(AllowAllParams p, ICollection&lt;ConfigProblem&gt; problems)
///     {
///         if (p.ValidUseCount &lt; 0) problems.Add(new("validUseCount", "must be >= 0"));
///     }
///
///     protected override ValueTask&lt;IHandler&gt; BuildAsync(AllowAllParams p, HandlerContext context, CancellationToken ct) =>
///         ValueTask.FromResult&lt;IHandler&gt;(new AllowAllHandler(p.ValidUseCount));
/// }
/// </code>
/// </example>
public abstract class Adapter<TParams> : IAdapter
    where TParams : class, new()
{
    /// <inheritdoc/>
    public abstract AdapterInfo Info { get; }

    /// <summary>The params type handlers of this adapter are configured with.</summary>
    public Type ParamsType => typeof(TParams);

    /// <summary>
    /// Reads <paramref name="parameters"/> as <typeparamref name="TParams"/> and, when that works,
    /// runs <see cref="Validate(TParams, ICollection{ConfigProblem})"/>. Returns every problem found.
    /// </summary>
    public IReadOnlyList<ConfigProblem> Validate(JsonElement parameters)
    {
        ReadAndValidate(parameters, out var problems);
        return problems;
    }

    /// <summary>
    /// Reads the handler's params, refuses them with <see cref="ArgumentException"/> (listing every
    /// problem) if they do not validate, and builds the handler.
    /// </summary>
    public ValueTask<IHandler> BuildAsync(HandlerContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var p = ReadAndValidate(context.Params, out var problems);
        if (p is null || problems.Count > 0)
        {
            throw new ArgumentException($"invalid params for handler {context.HandlerName}: " + string.Join("; ", problems.Select(x => x.Field.Length == 0 ? x.Reason : $"{x.Field}: {x.Reason}")));
        }

        return BuildAsync(p, context, cancellationToken);
    }

    // The params read once: null with problems when they do not read, else the adapter's own checks added.
    private TParams? ReadAndValidate(JsonElement parameters, out List<ConfigProblem> problems)
    {
        problems = [];
        var p = AdapterParams.TryRead<TParams>(parameters, problems);
        if (p is not null)
        {
            Validate(p, problems);
        }

        return p;
    }

    /// <summary>
    /// Checks params that were read successfully; add one <see cref="ConfigProblem"/> per problem,
    /// naming the field by its camelCase path (e.g. <c>quotas[0].maxAmount</c>). Must not reach a
    /// backend: it also runs offline in <c>mixc validate</c>. The default accepts everything.
    /// </summary>
    /// <param name="parameters">The params as read.</param>
    /// <param name="problems">Where to add problems.</param>
    protected virtual void Validate(TParams parameters, ICollection<ConfigProblem> problems)
    {
    }

    /// <summary>Builds a handler from params that validated.</summary>
    /// <param name="parameters">The handler's params.</param>
    /// <param name="context">The handler's name, routed instances, logger, clock, settings and metrics.</param>
    /// <param name="cancellationToken">Cancelled when the config change is abandoned.</param>
    protected abstract ValueTask<IHandler> BuildAsync(TParams parameters, HandlerContext context, CancellationToken cancellationToken);
}
