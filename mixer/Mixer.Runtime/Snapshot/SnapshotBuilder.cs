using System.Text.Json;
using Microsoft.Extensions.Logging;
using Mixer.Runtime.Config;
using Mixer.Runtime.Remote;
using Mixer.Runtime.Templates;
using Mixer.Sdk;
using Mixer.Sdk.Adapters;
using Mixer.Sdk.Remote;
using ValueType = Mixer.Sdk.ValueType;

namespace Mixer.Runtime.Snapshot;

/// <summary>
/// Turns what the store holds into a <see cref="ConfigSnapshot"/>. Every error names file:line,
/// the resource, the field and the reason; all of them are collected. A resource that does not
/// validate does not take effect, but if an earlier version of it was good, that version keeps
/// serving: a typo never opens or closes the mesh.
/// </summary>
internal sealed partial class SnapshotBuilder(
    IReadOnlyDictionary<string, IAdapter> adapters,
    Func<IReadOnlyDictionary<string, ValueType>, IExpressionCompiler> compilerFactory,
    string defaultNamespace,
    ILoggerFactory loggers,
    IReadOnlyDictionary<string, string>? settings = null,
    Dispatch.IDispatchMetrics? metrics = null,
    Func<string, string, IAdapterMetrics>? adapterMetrics = null,
    TimeSpan? handlerDeadline = null,
    Dispatch.IRemoteCallMetrics? remoteMetrics = null)
{
    private readonly TimeSpan _handlerDeadline = handlerDeadline ?? TimeSpan.FromSeconds(2);
    private readonly Dispatch.IRemoteCallMetrics _remoteMetrics = remoteMetrics ?? Dispatch.NoRemoteCallMetrics.Instance;

    private readonly ILogger _logger = loggers.CreateLogger("Mixer.Runtime.Config");

    /// <param name="buildHandlers">False to validate only (mixc validate): params are checked, no handler is built, no backend is reached.</param>
    public async Task<ConfigSnapshot> BuildAsync(StoreSnapshot store, ConfigSnapshot? previous, long generation, CancellationToken cancellationToken, bool buildHandlers = true)
    {
        var errors = new List<ConfigError>(store.Errors);
        var used = new Dictionary<ResourceKey, ConfigResource>();
        var byKind = store.Resources.Values.GroupBy(r => r.Key.Kind).ToDictionary(g => g.Key, g => g.OrderBy(r => r.Key.ToString(), StringComparer.Ordinal).ToList());
        List<ConfigResource> Of(Func<string, bool> kind) => byKind.Where(kv => kind(kv.Key)).SelectMany(kv => kv.Value).ToList();

        // Resources that were good last time and are broken or gone from this read are looked up here.
        ConfigResource? LastGood(ConfigResource current) =>
            previous is not null && previous.Resources.TryGetValue(current.Key, out var old) && old.Digest != current.Digest ? old : null;

        // 1. Attribute manifests.
        var manifest = new Dictionary<string, ValueType>(StringComparer.Ordinal);
        foreach (var r in Of(k => k == "attributemanifest"))
        {
            WithFallback(r, LastGood(r), errors, used, res => ReadManifest(res, manifest));
        }

        var compiler = compilerFactory(manifest);

        // 1b. Template descriptors and out-of-process adapters (Istio 1.0's `template` and `adapter` kinds).
        var templateResources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var r in Of(k => k == "template"))
        {
            WithFallback(r, LastGood(r), errors, used, res => ReadTemplateResource(res, templateResources));
        }

        var remoteAdapters = new Dictionary<string, RemoteAdapterSpec>(StringComparer.Ordinal);
        foreach (var r in Of(k => k == "adapter"))
        {
            WithFallback(r, LastGood(r), errors, used, res => ReadAdapterResource(res, templateResources, remoteAdapters));
        }

        // Filled in step 3; remote handlers read the inferred types of their instances from it when built.
        var instances = new Dictionary<string, InstanceEntry>(StringComparer.Ordinal);

        // 2. Handlers (built later, once we know which instances they serve).
        var handlerSpecs = new Dictionary<string, (ConfigResource Res, IAdapter Adapter, ConfigNode Params)>(StringComparer.Ordinal);
        foreach (var r in Of(k => Kinds.Adapters.Contains(k) || k == "handler"))
        {
            WithFallback(r, LastGood(r), errors, used, res =>
            {
                var problems = ReadHandler(res, remoteAdapters, instances, out var adapter, out var paramsNode);
                if (problems.Count == 0)
                {
                    handlerSpecs[res.Key.FullName] = (res, adapter!, paramsNode!);
                }

                return problems;
            });
        }

        // 3. Instances.
        foreach (var r in Of(k => Kinds.Templates.Contains(k) || k == "instance"))
        {
            WithFallback(r, LastGood(r), errors, used, res =>
            {
                var problems = ReadInstance(res, compiler, templateResources, out var entry);
                if (entry is not null)
                {
                    instances[entry.Name] = entry;
                }

                return problems;
            });
        }

        // 4. Rules: resolve references, check templates against adapters.
        var ruleSpecs = new List<(ConfigResource Res, ICompiledExpression? Match, List<(string Handler, List<InstanceEntry> Instances)> Actions, List<HeaderOperationEntry> Req, List<HeaderOperationEntry> Resp)>();
        foreach (var r in Of(k => k == "rule"))
        {
            WithFallback(r, LastGood(r), errors, used, res =>
            {
                var problems = ReadRule(res, compiler, handlerSpecs, instances, out var spec);
                if (spec is { } s)
                {
                    ruleSpecs.Add(s);
                }

                return problems;
            });
        }

        // 5. Build handlers that rules use, reusing unchanged ones from the previous snapshot.
        var routed = new Dictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal);
        foreach (var (_, _, actions, _, _) in ruleSpecs)
        {
            foreach (var (handler, list) in actions)
            {
                var set = routed.TryGetValue(handler, out var s) ? s : routed[handler] = new SortedDictionary<string, string>(StringComparer.Ordinal);
                foreach (var i in list)
                {
                    set[i.Name] = i.Template.Name;
                }
            }
        }

        var handlers = new Dictionary<string, HandlerEntry>(StringComparer.Ordinal);
        foreach (var (name, (res, adapter, paramsNode)) in handlerSpecs)
        {
            if (!buildHandlers || !routed.TryGetValue(name, out var routedInstances))
            {
                // Istio builds only handlers that some rule uses.
                continue;
            }

            var paramsJson = HandlerParams(res, paramsNode, adapter, store);
            var signature = $"{adapter.Info.Name}\n{paramsJson.GetRawText()}\n{string.Join(',', routedInstances.Select(kv => kv.Key + ":" + kv.Value))}\n{(adapter as RemoteAdapter)?.Signature}";
            if (previous is not null && previous.Handlers.TryGetValue(name, out var old) && old.Signature == signature)
            {
                handlers[name] = old;
                continue;
            }

            try
            {
                var handler = await adapter.BuildAsync(new HandlerContext
                {
                    HandlerName = name,
                    Params = paramsJson,
                    Instances = routedInstances,
                    Logger = loggers.CreateLogger($"Mixer.Adapters.{adapter.Info.Name}"),
                    Settings = settings ?? new Dictionary<string, string>(),
                    Metrics = adapterMetrics?.Invoke(name, adapter.Info.Name) ?? AdapterMetrics.None,
                }, cancellationToken).ConfigureAwait(false);
                handlers[name] = new HandlerEntry(name, adapter.Info.Name, signature, handler, res, (metrics ?? Dispatch.NoDispatchMetrics.Instance).ForHandler(name, adapter.Info.Name));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                errors.Add(new ConfigError(res.Position, res.Key, "spec", $"the {adapter.Info.Name} adapter could not build this handler: {e.Message}"));
                if (previous is not null && previous.Handlers.TryGetValue(name, out var keep))
                {
                    handlers[name] = keep;
                }
            }
        }

        // 6. Rules with their handlers; a rule whose handler could not be built loses that action.
        var global = new List<RuleEntry>();
        var byNamespace = new Dictionary<string, List<RuleEntry>>(StringComparer.Ordinal);
        var slots = new ExpressionSlots();
        foreach (var (res, match, actions, req, resp) in ruleSpecs)
        {
            var built = actions.Where(a => handlers.ContainsKey(a.Handler)).Select(a => new ActionEntry(handlers[a.Handler], a.Instances, slots)).ToList();
            var rule = new RuleEntry(res.Key, match, built, req, resp);
            if (res.Key.Namespace == defaultNamespace)
            {
                global.Add(rule);
            }
            else
            {
                (byNamespace.TryGetValue(res.Key.Namespace, out var l) ? l : byNamespace[res.Key.Namespace] = []).Add(rule);
            }
        }

        foreach (var e in errors)
        {
            LogConfigError(_logger, generation, e.ToString());
        }

        return new ConfigSnapshot
        {
            Generation = generation,
            DefaultNamespace = defaultNamespace,
            Manifest = manifest,
            Handlers = handlers,
            Instances = instances,
            GlobalRules = global,
            NamespaceRules = byNamespace.ToDictionary(kv => kv.Key, kv => (IReadOnlyList<RuleEntry>)kv.Value, StringComparer.Ordinal),
            HasReportRules = global.Any(r => r.ForReport) || byNamespace.Values.Any(rules => rules.Any(r => r.ForReport)),
            Resources = used,
            Errors = errors,
        };
    }

    /// <summary>
    /// Applies <paramref name="apply"/> to the current version; when it has problems, reports them
    /// and tries the last good version instead (whose problems, if any, are not reported again).
    /// </summary>
    private static void WithFallback(ConfigResource current, ConfigResource? lastGood, List<ConfigError> errors, Dictionary<ResourceKey, ConfigResource> used, Func<ConfigResource, List<ConfigError>> apply)
    {
        var problems = apply(current);
        if (problems.Count == 0)
        {
            used[current.Key] = current;
            return;
        }

        errors.AddRange(problems);
        if (lastGood is not null && apply(lastGood).Count == 0)
        {
            used[lastGood.Key] = lastGood;
            errors.Add(new ConfigError(current.Position, current.Key, string.Empty, $"not applied; the last good version (from {lastGood.Position}) keeps serving"));
        }
    }

    private static List<ConfigError> ReadManifest(ConfigResource res, Dictionary<string, ValueType> manifest)
    {
        var errors = new List<ConfigError>();
        if (!res.Spec.TryGet("attributes", out var node))
        {
            return errors;
        }

        if (node is not ConfigMap attributes)
        {
            errors.Add(new ConfigError(node.Position, res.Key, "attributes", "must be a map of attribute name to {valueType}"));
            return errors;
        }

        var found = new List<(string, ValueType)>();
        foreach (var (name, info) in attributes.Entries)
        {
            string? typeText = info is ConfigMap m && m.TryGet("valueType", out var t) && t is ConfigScalar ts ? ts.Value : null;
            if (typeText is null || !ValueTypes.TryParseIstioName(typeText, out var type) || type == ValueType.Bytes)
            {
                errors.Add(new ConfigError(info.Position, res.Key, $"attributes.{name}.valueType",
                    $"'{typeText ?? "(missing)"}' is not a value type; use one of STRING, INT64, DOUBLE, BOOL, TIMESTAMP, IP_ADDRESS, EMAIL_ADDRESS, URI, DNS_NAME, DURATION, STRING_MAP"));
                continue;
            }

            if (manifest.TryGetValue(name, out var existing) && existing != type)
            {
                errors.Add(new ConfigError(info.Position, res.Key, $"attributes.{name}", $"declared as {type.ToIstioName()} here but as {existing.ToIstioName()} in another manifest"));
                continue;
            }

            found.Add((name, type));
        }

        if (errors.Count == 0)
        {
            foreach (var (n, t) in found)
            {
                manifest[n] = t;
            }
        }

        return errors;
    }

    // The out-of-process adapter resources an error can point the user to: "namespace/name, …".
    private static string AdapterResources(Dictionary<string, RemoteAdapterSpec> remoteAdapters) =>
        string.Join(", ", remoteAdapters.Values.Select(a => a.Resource.Key.Namespace + "/" + a.Name).Order(StringComparer.Ordinal));

    private List<ConfigError> ReadHandler(ConfigResource res, Dictionary<string, RemoteAdapterSpec> remoteAdapters, Dictionary<string, InstanceEntry> instances, out IAdapter? adapter, out ConfigNode? paramsNode)
    {
        var errors = new List<ConfigError>();
        paramsNode = res.Spec;
        adapter = null;
        string adapterName;
        if (res.Key.Kind == "handler")
        {
            // Istio 1.1's generic form: compiledAdapter names an in-tree adapter; adapter names an out-of-process one.
            var compiled = Scalar(res.Spec, "compiledAdapter");
            var named = Scalar(res.Spec, "adapter");
            adapterName = compiled ?? named ?? string.Empty;
            if (adapterName.Length == 0)
            {
                errors.Add(new ConfigError(res.Position, res.Key, "adapter", "missing: name the adapter (compiledAdapter: denier, or adapter: <out-of-process adapter>)"));
                adapter = null;
                return errors;
            }

            paramsNode = res.Spec.TryGet("params", out var p) ? p : ConfigMap.Empty(res.Position);

            // An adapter resource of that name makes this an out-of-process handler.
            if (compiled is null && Resolve(adapterName, res.Key.Namespace, remoteAdapters.Keys) is { } remoteName)
            {
                adapter = ReadRemoteHandler(res, remoteAdapters[remoteName], instances, errors);
                if (adapter is null)
                {
                    return errors;
                }
            }
            else if (res.Spec.TryGet("connection", out var connection))
            {
                errors.Add(new ConfigError(connection.Position, res.Key, "connection",
                    $"no adapter resource '{adapterName}' in namespace '{res.Key.Namespace}': a connection needs an out-of-process adapter (kind: adapter) of that name"
                    + (remoteAdapters.Count > 0 ? $"; adapter resources: {AdapterResources(remoteAdapters)}" : string.Empty)));
                adapter = null;
                return errors;
            }
        }
        else
        {
            adapterName = res.Key.Kind;
        }

        if (adapter is null && !adapters.TryGetValue(adapterName, out adapter))
        {
            var field = res.Key.Kind == "handler" ? "adapter" : "kind";
            errors.Add(new ConfigError(res.Position, res.Key, field,
                $"adapter '{adapterName}' is not available in this Mixer (compiled in: {string.Join(", ", adapters.Keys.Order(StringComparer.Ordinal))}; "
                + (remoteAdapters.Count == 0 ? "no adapter resources" : $"adapter resources: {AdapterResources(remoteAdapters)}") + ")"));
            return errors;
        }

        foreach (var problem in adapter.Validate(ParamsJson.From(paramsNode)))
        {
            var position = ParamsJson.Locate(paramsNode, problem.Field, problem.TextLine);
            var prefix = res.Key.Kind == "handler" ? "params" : string.Empty;
            var field = string.Join('.', new[] { prefix, problem.Field }.Where(s => s.Length > 0));
            errors.Add(new ConfigError(position, res.Key, field, problem.Reason));
        }

        return errors;
    }

    private static JsonElement HandlerParams(ConfigResource res, ConfigNode paramsNode, IAdapter adapter, StoreSnapshot store)
    {
        if (adapter.Info.Name != "rbac")
        {
            return ParamsJson.From(paramsNode);
        }

        // The rbac adapter gets its roles and bindings through its params, never by reading a store.
        JsonElement Docs(string kind) => ParamsJson.From(new ConfigList(res.Position, store.Resources.Values
            .Where(r => r.Key.Kind == kind)
            .OrderBy(r => r.Key.ToString(), StringComparer.Ordinal)
            .Select(r => (ConfigNode)new ConfigMap(r.Position, [
                new("namespace", new ConfigScalar(r.Position, r.Key.Namespace, true)),
                new("name", new ConfigScalar(r.Position, r.Key.Name, true)),
                new("spec", r.Spec)]))
            .ToList()));
        return ParamsJson.From(paramsNode, [new("serviceRoles", Docs("ServiceRole")), new("serviceRoleBindings", Docs("ServiceRoleBinding"))]);
    }

    private static List<ConfigError> ReadInstance(ConfigResource res, IExpressionCompiler compiler, Dictionary<string, string> templateResources, out InstanceEntry? entry)
    {
        var errors = new List<ConfigError>();
        entry = null;
        var spec = res.Spec;
        string templateName;
        if (res.Key.Kind == "instance")
        {
            templateName = Scalar(spec, "compiledTemplate") ?? Scalar(spec, "template") ?? string.Empty;

            // `template:` may name a template resource (Istio 1.0's form); it describes a compiled-in template.
            if (!TemplateRegistry.All.ContainsKey(templateName) && Resolve(templateName, res.Key.Namespace, templateResources.Keys) is { } described)
            {
                templateName = templateResources[described];
            }

            if (!spec.TryGet("params", out var p))
            {
                errors.Add(new ConfigError(res.Position, res.Key, "params", "params cannot be nil: give the template's fields"));
                return errors;
            }

            if (p is not ConfigMap pm)
            {
                errors.Add(new ConfigError(p.Position, res.Key, "params", $"must be a map of the template's fields, not {p.Shape}"));
                return errors;
            }

            spec = pm;
        }
        else
        {
            templateName = res.Key.Kind;
        }

        if (!TemplateRegistry.All.TryGetValue(templateName, out var template))
        {
            errors.Add(new ConfigError(res.Position, res.Key, "template", $"template '{templateName}' is not available in this Mixer (available: {string.Join(", ", TemplateRegistry.All.Keys.Order(StringComparer.Ordinal))})"));
            return errors;
        }

        var fields = new List<CompiledField>();
        CompileFields(res, spec, template.Fields, string.Empty, compiler, fields, errors);
        if (errors.Count == 0)
        {
            entry = new InstanceEntry(res.Key.FullName, template, fields, res);
        }

        return errors;
    }

    private static void CompileFields(ConfigResource res, ConfigMap spec, IReadOnlyList<TemplateField> fields, string prefix, IExpressionCompiler compiler, List<CompiledField> output, List<ConfigError> errors)
    {
        var fieldPrefix = res.Key.Kind == "instance" ? "params." : string.Empty;
        foreach (var (key, node) in spec.Entries)
        {
            var field = fields.FirstOrDefault(f => ConfigMap.Normalize(f.Name) == ConfigMap.Normalize(key));
            var path = prefix + (field?.Name ?? key);
            if (field is null)
            {
                if (key == "attribute_bindings" || key == "attributeBindings")
                {
                    continue;
                }

                errors.Add(new ConfigError(node.Position, res.Key, fieldPrefix + path, $"unknown field; the template's fields are {string.Join(", ", fields.Select(f => f.Name))}"));
                continue;
            }

            switch (field.Kind)
            {
                case FieldKind.Message when node is ConfigMap nested:
                    CompileFields(res, nested, field.Fields!, path + ".", compiler, output, errors);
                    break;
                case FieldKind.ValueMap when node is ConfigMap map:
                    var entries = new List<KeyValuePair<string, ICompiledExpression>>();
                    foreach (var (mk, mv) in map.Entries)
                    {
                        if (Compile(res, mv, $"{fieldPrefix}{path}.{mk}", compiler, null, errors) is { } e)
                        {
                            entries.Add(new(mk, e));
                        }
                    }

                    output.Add(new CompiledField(path, field, null, entries));
                    break;
                case FieldKind.Value or FieldKind.Typed when node is ConfigScalar:
                    if (Compile(res, node, fieldPrefix + path, compiler, field.Kind == FieldKind.Typed ? field.Type : null, errors) is { } expr)
                    {
                        output.Add(new CompiledField(path, field, expr, null));
                    }

                    break;
                default:
                    var want = field.Kind switch
                    {
                        FieldKind.Message => "a map of its fields",
                        FieldKind.ValueMap => "a map of name to expression",
                        _ => "an expression",
                    };
                    errors.Add(new ConfigError(node.Position, res.Key, fieldPrefix + path, $"must be {want}, not {node.Shape}"));
                    break;
            }
        }
    }

    private static ICompiledExpression? Compile(ConfigResource res, ConfigNode node, string field, IExpressionCompiler compiler, ValueType? expected, List<ConfigError> errors)
    {
        if (node is not ConfigScalar s)
        {
            errors.Add(new ConfigError(node.Position, res.Key, field, $"must be an expression, not {node.Shape}"));
            return null;
        }

        if (!compiler.TryCompile(s.Value, out var expression, out var error))
        {
            errors.Add(new ConfigError(node.Position, res.Key, field, $"expression '{s.Value}': {error}"));
            return null;
        }

        // Istio's own docs feed `source.ip | ip("0.0.0.0")` to listentry's string value, so string
        // fields also take IP addresses and the string-like types, as their text.
        if (expected is { } want && expression.Type != want
            && !(want == ValueType.String && (expression.Type.IsStringLike() || expression.Type == ValueType.IpAddress)))
        {
            errors.Add(new ConfigError(node.Position, res.Key, field, $"expression '{s.Value}' evaluates to {expression.Type.ToIstioName()}, expected {want.ToIstioName()}"));
            return null;
        }

        return expression;
    }

    private static List<ConfigError> ReadRule(
        ConfigResource res,
        IExpressionCompiler compiler,
        Dictionary<string, (ConfigResource Res, IAdapter Adapter, ConfigNode Params)> handlers,
        Dictionary<string, InstanceEntry> instances,
        out (ConfigResource, ICompiledExpression?, List<(string, List<InstanceEntry>)>, List<HeaderOperationEntry>, List<HeaderOperationEntry>)? spec)
    {
        var errors = new List<ConfigError>();
        spec = null;
        UnknownFields(res, res.Spec, string.Empty, s_ruleFields, errors);
        ICompiledExpression? match = null;

        // "selector" is the pre-0.8 name of "match"; Istio 1.0 still accepted it.
        var matchField = res.Spec.TryGet("match", out var matchNode) ? "match" : res.Spec.TryGet("selector", out matchNode) ? "selector" : null;
        if (matchField is not null && !(matchNode is ConfigScalar ms && (ms.IsNull || ms.Value.Trim().Length == 0)))
        {
            match = Compile(res, matchNode!, matchField, compiler, ValueType.Bool, errors);
        }

        var actions = new List<(string, List<InstanceEntry>)>();
        if (res.Spec.TryGet("actions", out var actionsNode))
        {
            if (actionsNode is not ConfigList list)
            {
                errors.Add(new ConfigError(actionsNode.Position, res.Key, "actions", $"must be a list of {{handler, instances}}, not {actionsNode.Shape}"));
                return errors;
            }

            for (var i = 0; i < list.Items.Count; i++)
            {
                var field = $"actions[{i}]";
                if (list.Items[i] is not ConfigMap action)
                {
                    errors.Add(new ConfigError(list.Items[i].Position, res.Key, field, "must be a map with handler and instances"));
                    continue;
                }

                UnknownFields(res, action, field + ".", s_actionFields, errors);
                var handlerRef = Scalar(action, "handler");
                var handlerName = handlerRef is null ? null : Resolve(handlerRef, res.Key.Namespace, handlers.Keys);
                if (handlerRef is null || handlerName is null)
                {
                    errors.Add(new ConfigError(action.Position, res.Key, field + ".handler",
                        handlerRef is null ? "missing" : $"handler '{handlerRef}' not found (or not valid) in namespace '{res.Key.Namespace}'"));
                    continue;
                }

                var supported = handlers[handlerName].Adapter.Info.SupportedTemplates;
                var chosen = new List<InstanceEntry>();
                if (!action.TryGet("instances", out var instNode) || instNode is not ConfigList instList || instList.Items.Count == 0)
                {
                    errors.Add(new ConfigError(action.Position, res.Key, field + ".instances", "missing: list the instances to send to the handler"));
                    continue;
                }

                for (var j = 0; j < instList.Items.Count; j++)
                {
                    var instRef = instList.Items[j] is ConfigScalar s ? s.Value : null;
                    var instName = instRef is null ? null : Resolve(instRef, res.Key.Namespace, instances.Keys);
                    var position = instList.Items[j].Position;
                    if (instRef is null || instName is null)
                    {
                        errors.Add(new ConfigError(position, res.Key, $"{field}.instances[{j}]", $"instance '{instRef}' not found (or not valid) in namespace '{res.Key.Namespace}'"));
                        continue;
                    }

                    var instance = instances[instName];
                    if (!supported.Contains(instance.Template.Name))
                    {
                        errors.Add(new ConfigError(position, res.Key, $"{field}.instances[{j}]",
                            $"instance '{instName}' is a {instance.Template.Name}, which handler '{handlerName}' ({handlers[handlerName].Adapter.Info.Name}) does not support; it supports {string.Join(", ", supported)}"));
                        continue;
                    }

                    if (chosen.Any(c => c.Name == instName))
                    {
                        errors.Add(new ConfigError(position, res.Key, $"{field}.instances[{j}]", $"instance '{instName}' is listed twice"));
                        continue;
                    }

                    chosen.Add(instance);
                }

                if (chosen.Count > 0)
                {
                    actions.Add((handlerName, chosen));
                }
            }
        }

        var req = HeaderOperations(res, "requestHeaderOperations", compiler, errors);
        var resp = HeaderOperations(res, "responseHeaderOperations", compiler, errors);
        if (errors.Count == 0)
        {
            spec = (res, match, actions, req, resp);
        }

        return errors;
    }

    private static List<HeaderOperationEntry> HeaderOperations(ConfigResource res, string key, IExpressionCompiler compiler, List<ConfigError> errors)
    {
        var result = new List<HeaderOperationEntry>();
        if (!res.Spec.TryGet(key, out var node))
        {
            return result;
        }

        if (node is not ConfigList list)
        {
            errors.Add(new ConfigError(node.Position, res.Key, key, "must be a list of {name, values, operation}"));
            return result;
        }

        for (var i = 0; i < list.Items.Count; i++)
        {
            var field = $"{key}[{i}]";
            if (list.Items[i] is not ConfigMap op || Scalar(op, "name") is not { Length: > 0 } name)
            {
                errors.Add(new ConfigError(list.Items[i].Position, res.Key, field + ".name", "missing: the header name"));
                continue;
            }

            var operation = (Scalar(op, "operation") ?? "REPLACE").ToUpperInvariant() switch
            {
                "REPLACE" => 0,
                "REMOVE" => 1,
                "APPEND" => 2,
                var other => -1,
            };
            if (operation < 0)
            {
                errors.Add(new ConfigError(op.Position, res.Key, field + ".operation", $"'{Scalar(op, "operation")}' is not REPLACE, REMOVE or APPEND"));
                continue;
            }

            var values = new List<ICompiledExpression>();
            if (op.TryGet("values", out var vn) && vn is ConfigList vl)
            {
                for (var j = 0; j < vl.Items.Count; j++)
                {
                    if (Compile(res, vl.Items[j], $"{field}.values[{j}]", compiler, ValueType.String, errors) is { } e)
                    {
                        values.Add(e);
                    }
                }
            }

            result.Add(new HeaderOperationEntry(name.ToLowerInvariant(), values, operation));
        }

        return result;
    }

    // Istio 1.0's Rule and Action, plus the 1.1 fields (header operations, sampling) it later accepted.
    private static readonly string[] s_ruleFields = ["match", "selector", "actions", "requestHeaderOperations", "responseHeaderOperations", "sampling"];
    private static readonly string[] s_actionFields = ["handler", "instances", "name"];

    /// <summary>Istio reads specs with jsonpb, for which a field the message lacks is an error.</summary>
    private static void UnknownFields(ConfigResource res, ConfigMap map, string prefix, string[] known, List<ConfigError> errors)
    {
        foreach (var (key, node) in map.Entries)
        {
            if (!known.Any(k => ConfigMap.Normalize(k) == ConfigMap.Normalize(key)))
            {
                errors.Add(new ConfigError(node.Position, res.Key, prefix + key, $"unknown field; the fields are {string.Join(", ", known)}"));
            }
        }
    }

    /// <summary>Istio's reference resolution: the first candidate that names an existing resource.</summary>
    private static string? Resolve(string reference, string ruleNamespace, IEnumerable<string> existing)
    {
        var names = existing as ICollection<string> ?? existing.ToList();
        foreach (var (name, kind, ns) in Names.Candidates(reference, ruleNamespace))
        {
            if (kind is not null)
            {
                var fqn = $"{name}.{kind}.{ns}";
                if (names.Contains(fqn))
                {
                    return fqn;
                }

                continue;
            }

            // Kind not given: the one handler (or instance) of that name in that namespace, whatever its kind.
            var matches = names.Where(n => n.StartsWith(name + ".", StringComparison.Ordinal)
                && n.EndsWith("." + ns, StringComparison.Ordinal)
                && n.Length > name.Length + ns.Length + 2
                && !n.AsSpan(name.Length + 1, n.Length - name.Length - ns.Length - 2).Contains('.')).ToList();
            if (matches.Count == 1)
            {
                return matches[0];
            }
        }

        return null;
    }

    // Istio 1.0's adapter.model.v1beta1.Template, Info and policy.v1beta1.Handler / Connection.
    private static readonly string[] s_templateFields = ["descriptor"];
    private static readonly string[] s_adapterFields = ["name", "description", "sessionBased", "templates", "config"];
    private static readonly string[] s_remoteHandlerFields = ["name", "adapter", "params", "connection", "compiledAdapter"];
    private static readonly string[] s_connectionFields = ["address", "timeout", "authentication"];

    /// <summary>
    /// A <c>template</c> resource: Istio 1.0 needed one (a base64 descriptor) before an instance of
    /// even a built-in template could go to an out-of-process adapter. Its descriptor is checked and
    /// the resource noted; it must describe a template compiled into Mixer, whose own shape is used.
    /// </summary>
    private static List<ConfigError> ReadTemplateResource(ConfigResource res, Dictionary<string, string> templates)
    {
        var errors = new List<ConfigError>();
        UnknownFields(res, res.Spec, string.Empty, s_templateFields, errors);
        var text = Scalar(res.Spec, "descriptor");
        var position = res.Spec.TryGet("descriptor", out var node) ? node.Position : res.Position;
        if (string.IsNullOrWhiteSpace(text))
        {
            errors.Add(new ConfigError(position, res.Key, "descriptor", "missing: the base64 of the template's FileDescriptorSet (mixgen template output)"));
        }
        else
        {
            try
            {
                Google.Protobuf.Reflection.FileDescriptorSet.Parser.ParseFrom(Convert.FromBase64String(text.Trim()));
            }
            catch (FormatException)
            {
                errors.Add(new ConfigError(position, res.Key, "descriptor", "is not base64 text (expected the base64 of a serialized google.protobuf.FileDescriptorSet)"));
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                errors.Add(new ConfigError(position, res.Key, "descriptor", $"is not a serialized google.protobuf.FileDescriptorSet: {e.Message}"));
            }
        }

        if (!TemplateRegistry.All.ContainsKey(res.Key.Name))
        {
            errors.Add(new ConfigError(res.Position, res.Key, "metadata.name",
                $"template '{res.Key.Name}' is not compiled into this Mixer, and instances of a template known only by its descriptor cannot be built; compiled-in templates: {string.Join(", ", TemplateRegistry.All.Keys.Order(StringComparer.Ordinal))}"));
        }

        if (errors.Count == 0)
        {
            templates[res.Key.FullName] = res.Key.Name;
        }

        return errors;
    }

    /// <summary>An <c>adapter</c> resource: an out-of-process adapter's info.</summary>
    private List<ConfigError> ReadAdapterResource(ConfigResource res, Dictionary<string, string> templateResources, Dictionary<string, RemoteAdapterSpec> result)
    {
        var errors = new List<ConfigError>();
        UnknownFields(res, res.Spec, string.Empty, s_adapterFields, errors);
        if (adapters.ContainsKey(res.Key.Name))
        {
            // Istio refuses this too: a handler's `adapter: <name>` would be ambiguous.
            errors.Add(new ConfigError(res.Position, res.Key, "metadata.name", $"an adapter named '{res.Key.Name}' is compiled into Mixer; rename this adapter resource"));
        }

        var sessionBased = false;
        if (res.Spec.TryGet("sessionBased", out var sb))
        {
            if (sb is ConfigScalar { Quoted: false } s && bool.TryParse(s.Value, out var b))
            {
                sessionBased = b;
            }
            else
            {
                errors.Add(new ConfigError(sb.Position, res.Key, "session_based", "must be true or false"));
            }
        }

        var templates = new List<string>();
        if (res.Spec.TryGet("templates", out var tn))
        {
            if (tn is not ConfigList list)
            {
                errors.Add(new ConfigError(tn.Position, res.Key, "templates", $"must be a list of template names, not {tn.Shape}"));
            }
            else
            {
                for (var i = 0; i < list.Items.Count; i++)
                {
                    var item = list.Items[i];
                    var name = item is ConfigScalar ts && !ts.IsNull ? ts.Value : null;
                    var resolved = name is null ? null
                        : TemplateRegistry.All.ContainsKey(name) ? name
                        : Resolve(name, res.Key.Namespace, templateResources.Keys) is { } fqn ? templateResources[fqn]
                        : null;
                    if (resolved is null)
                    {
                        errors.Add(new ConfigError(item.Position, res.Key, $"templates[{i}]",
                            $"template '{name}' not found; templates: {string.Join(", ", TemplateRegistry.All.Keys.Order(StringComparer.Ordinal))}"));
                        continue;
                    }

                    if (TemplateRegistry.All[resolved].Variety is not (Variety.Check or Variety.Report or Variety.Quota))
                    {
                        errors.Add(new ConfigError(item.Position, res.Key, $"templates[{i}]", $"template '{resolved}' cannot be served out of process"));
                        continue;
                    }

                    templates.Add(resolved);
                }
            }
        }

        ParamsCodec? codec = null;
        if (res.Spec.TryGet("config", out var cfg))
        {
            if (cfg is not ConfigScalar cs)
            {
                errors.Add(new ConfigError(cfg.Position, res.Key, "config", $"must be the base64 of the adapter's FileDescriptorSet, not {cfg.Shape}"));
            }
            else if (!cs.IsNull)
            {
                codec = ParamsCodec.FromAdapterConfig(cs.Value, out var error);
                if (error is not null)
                {
                    errors.Add(new ConfigError(cfg.Position, res.Key, "config", error));
                }
            }
        }

        if (errors.Count == 0)
        {
            result[res.Key.FullName] = new RemoteAdapterSpec(res, Scalar(res.Spec, "description") ?? string.Empty, sessionBased, templates, codec);
        }

        return errors;
    }

    /// <summary>A <c>handler</c> naming an adapter resource: its connection, checked; its params are checked by the caller.</summary>
    private RemoteAdapter? ReadRemoteHandler(ConfigResource res, RemoteAdapterSpec spec, Dictionary<string, InstanceEntry> instances, List<ConfigError> errors)
    {
        UnknownFields(res, res.Spec, string.Empty, s_remoteHandlerFields, errors);
        if (!res.Spec.TryGet("connection", out var node) || node is not ConfigMap connection)
        {
            errors.Add(new ConfigError(res.Position, res.Key, "connection.address", $"missing: the host:port of the gRPC server of adapter '{spec.Name}' (e.g. connection: {{address: \"localhost:45678\"}})"));
            return null;
        }

        UnknownFields(res, connection, "connection.", s_connectionFields, errors);
        var address = Scalar(connection, "address");
        var addressPosition = connection.TryGet("address", out var an) ? an.Position : connection.Position;
        if (string.IsNullOrWhiteSpace(address))
        {
            errors.Add(new ConfigError(addressPosition, res.Key, "connection.address", $"missing: the host:port of the gRPC server of adapter '{spec.Name}'"));
            return null;
        }

        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535
            || address.Contains("://", StringComparison.Ordinal))
        {
            errors.Add(new ConfigError(addressPosition, res.Key, "connection.address", $"'{address}' is not host:port (e.g. localhost:45678)"));
            return null;
        }

        var deadline = _handlerDeadline;
        if (connection.TryGet("timeout", out var tn))
        {
            if (tn is ConfigScalar ts && GoDuration.TryParse(ts.Value, out var nanos) && nanos > 0)
            {
                // Istio 1.1's per-connection timeout; it can shorten, never lengthen, the dispatcher's deadline.
                var timeout = TimeSpan.FromTicks(nanos / 100);
                deadline = timeout < deadline ? timeout : deadline;
            }
            else
            {
                errors.Add(new ConfigError(tn.Position, res.Key, "connection.timeout", "must be a positive duration such as 500ms or 2s"));
            }
        }

        if (connection.TryGet("authentication", out var auth))
        {
            errors.Add(new ConfigError(auth.Position, res.Key, "connection.authentication", "not supported: connections to out-of-process adapters are plaintext (as in Istio 1.0)"));
        }

        return errors.Count == 0 ? new RemoteAdapter(spec, address, deadline, instances, _remoteMetrics) : null;
    }

    private static string? Scalar(ConfigMap map, string key) =>
        map.TryGet(key, out var n) && n is ConfigScalar s && !s.IsNull ? s.Value : null;

    [LoggerMessage(EventId = 3101, Level = LogLevel.Warning, Message = "Config generation {Generation}: {Error}")]
    private static partial void LogConfigError(ILogger logger, long generation, string error);
}
