# Test helper for the BOSH release and the bosh-deployment ops files, run with Debian's Ruby.
#
#   ruby bosh_tool.rb spec JOB_DIR                      -> the job's properties as JSON
#   ruby bosh_tool.rb render JOB_DIR PROPS.json OUTDIR  -> renders every template like BOSH
#   ruby bosh_tool.rb interpolate BASE.yml VARS.yml OPS.yml... -> manifest as JSON, plus the
#                                                          fate of every op path
#
# It mimics, in small, what the director's and bosh-cli's template renderers and bosh-cli's
# ops-file interpreter (go-patch) do, so that tests need no bosh CLI.
require 'erb'
require 'json'
require 'ostruct'
require 'yaml'

def load_yaml(path)
  YAML.safe_load(File.read(path), aliases: true) || {}
end

# ---------------------------------------------------------------------------- rendering

class UnknownProperty < StandardError; end

# The object templates are evaluated against: `p`, `if_p`, `spec`, like bosh-template.
class RenderContext
  attr_reader :spec

  def initialize(properties, spec)
    @properties = properties
    @spec = spec
  end

  def p(name, *default)
    names = name.is_a?(Array) ? name : [name]
    names.each do |n|
      value = lookup(n)
      return value unless value.nil?
    end
    return default.first unless default.empty?
    raise UnknownProperty, "Can't find property '#{names.join("', '")}'"
  end

  def if_p(*names)
    values = names.map do |name|
      value = lookup(name)
      return ActiveElse.new if value.nil?
      value
    end
    yield(*values)
    InactiveElse.new
  end

  def get_binding
    binding
  end

  private

  def lookup(name)
    name.split('.').reduce(@properties) { |node, key| node.is_a?(Hash) ? node[key] : nil }
  end
end

class ActiveElse
  def else
    yield
  end
end

class InactiveElse
  def else; end
end

def set_dotted(hash, dotted, value)
  *parents, last = dotted.split('.')
  node = parents.reduce(hash) { |h, k| h[k] ||= {} }
  node[last] = value
end

def get_dotted(hash, dotted)
  dotted.split('.').reduce(hash) { |node, key| node.is_a?(Hash) && node.key?(key) ? node[key] : (return [false, nil]) }
    .then { |value| [true, value] }
end

# Only spec-declared properties reach the templates, with the spec defaults filled in, as the
# director and bosh-cli do. Manifest keys outside the spec are ignored there; here, keys in a
# section the job owns that the spec does not declare are an error, to catch misspellings.
def job_properties(spec, given, owned_sections)
  declared = spec.fetch('properties', {})
  result = {}
  declared.each do |name, definition|
    found, value = get_dotted(given, name)
    value = definition['default'] if !found || value.nil?
    set_dotted(result, name, value) unless value.nil?
  end
  undeclared = []
  walk = lambda do |node, prefix|
    node.each do |key, value|
      name = prefix.empty? ? key : "#{prefix}.#{key}"
      next if declared.key?(name)
      if value.is_a?(Hash) && declared.keys.any? { |d| d.start_with?("#{name}.") }
        walk.call(value, name)
      else
        undeclared << name
      end
    end
  end
  walk.call(given.select { |k, _| owned_sections.include?(k) }, '')
  raise "properties not declared in the job spec: #{undeclared.join(', ')}" unless undeclared.empty?
  result
end

def render(job_dir, props_path, out_dir)
  spec = load_yaml(File.join(job_dir, 'spec'))
  given = JSON.parse(File.read(props_path))
  owned = spec['properties'].keys.map { |k| k.split('.').first }.uniq - ['agent']
  properties = job_properties(spec, given, owned)
  bosh_spec = OpenStruct.new(
    name: 'bosh', deployment: 'bosh', index: 0, id: 'e5f1c7a0-0000-4000-8000-000000000001',
    az: 'z1', address: '10.0.0.6', ip: '10.0.0.6', bootstrap: true,
    job: OpenStruct.new(name: spec['name']), properties: properties
  )
  spec.fetch('templates').each do |source, destination|
    template = File.read(File.join(job_dir, 'templates', source))
    context = RenderContext.new(properties, bosh_spec)
    output = ERB.new(template, trim_mode: '-').result(context.get_binding)
    target = File.join(out_dir, destination)
    Dir.mkdir(File.dirname(target)) unless Dir.exist?(File.dirname(target))
    File.write(target, output)
  end
end

# ---------------------------------------------------------------------------- ops files

class OpError < StandardError; end

# One `/`-separated path token of go-patch.
Token = Struct.new(:kind, :key, :value, :index, :optional)

def parse_path(path)
  raise OpError, "path must start with /: #{path}" unless path.start_with?('/')
  path.split('/', -1)[1..].map do |raw|
    raw = raw.gsub('~1', '/').gsub('~0', '~')
    optional = raw.end_with?('?')
    raw = raw.chomp('?')
    if raw == '-'
      Token.new(:append, nil, nil, nil, optional)
    elsif raw.match?(/\A-?\d+\z/)
      Token.new(:index, nil, nil, raw.to_i, optional)
    elsif raw.include?('=')
      key, value = raw.split('=', 2)
      raise OpError, "unsupported matcher #{raw}" if value.include?(':')
      Token.new(:matcher, key, value, nil, optional)
    else
      Token.new(:key, raw, nil, nil, optional)
    end
  end
end

# Applies one op. Returns :existing or :created for replace, :removed for remove.
def apply_op(doc, op)
  tokens = parse_path(op.fetch('path'))
  type = op.fetch('type')
  raise OpError, "unsupported op type #{type}" unless %w[replace remove].include?(type)
  created = false
  optional = false
  parent = nil
  container = { 'root' => doc }
  slot = 'root'
  tokens.each do |token|
    optional ||= token.optional
    node = container[slot]
    case token.kind
    when :key
      if node.nil? && optional
        node = container[slot] = {}
        created = true
      end
      raise OpError, "expected a map at #{token.key} in #{op['path']}" unless node.is_a?(Hash)
      unless node.key?(token.key)
        raise OpError, "missing map key '#{token.key}' in #{op['path']}" unless optional || token.equal?(tokens.last)
        created = true
      end
      container, slot = node, token.key
    when :index
      raise OpError, "expected an array in #{op['path']}" unless node.is_a?(Array)
      idx = token.index.negative? ? node.length + token.index : token.index
      raise OpError, "index #{token.index} out of range in #{op['path']}" unless (0...node.length).cover?(idx)
      container, slot = node, idx
    when :append
      if node.nil? && optional
        node = container[slot] = []
        created = true
      end
      raise OpError, "expected an array for - in #{op['path']}" unless node.is_a?(Array)
      raise OpError, "- must be last in #{op['path']}" unless token.equal?(tokens.last)
      raise OpError, "cannot remove - in #{op['path']}" if type == 'remove'
      node << nil
      created = true
      container, slot = node, node.length - 1
    when :matcher
      if node.nil? && optional
        node = container[slot] = []
        created = true
      end
      raise OpError, "expected an array for #{token.key}=#{token.value} in #{op['path']}" unless node.is_a?(Array)
      matches = node.each_index.select { |i| node[i].is_a?(Hash) && node[i][token.key].to_s == token.value }
      raise OpError, "#{token.key}=#{token.value} matches #{matches.length} items in #{op['path']}" if matches.length > 1
      if matches.empty?
        raise OpError, "nothing matches #{token.key}=#{token.value} in #{op['path']}" unless optional
        node << { token.key => token.value }
        created = true
        matches = [node.length - 1]
      end
      container, slot = node, matches.first
    end
    parent = container
  end
  if type == 'remove'
    raise OpError, "nothing to remove at #{op['path']}" if created
    parent.is_a?(Array) ? parent.delete_at(slot) : parent.delete(slot)
    :removed
  else
    container[slot] = Marshal.load(Marshal.dump(op.fetch('value')))
    created ? :created : :existing
  end
end

# ((name)) and ((name.field)) placeholders, as bosh-cli interpolates them.
def interpolate_vars(node, vars, missing)
  case node
  when Hash then node.to_h { |k, v| [k, interpolate_vars(v, vars, missing)] }
  when Array then node.map { |v| interpolate_vars(v, vars, missing) }
  when String
    if (whole = node.match(/\A\(\(([\w.\-\/]+)\)\)\z/))
      found, value = get_dotted(vars, whole[1])
      missing << whole[1] unless found
      return found ? value : node
    end
    node.gsub(/\(\(([\w.\-\/]+)\)\)/) do
      found, value = get_dotted(vars, Regexp.last_match(1))
      missing << Regexp.last_match(1) unless found
      found ? value.to_s : Regexp.last_match(0)
    end
  else node
  end
end

def interpolate(base, vars_path, ops_paths)
  doc = load_yaml(base)
  outcomes = []
  ops_paths.each do |ops_path|
    ops = load_yaml(ops_path)
    raise OpError, "#{ops_path} is not a list of ops" unless ops.is_a?(Array)
    ops.each do |op|
      outcome = apply_op(doc, op)
      outcomes << { 'file' => File.basename(ops_path), 'path' => op['path'], 'type' => op['type'], 'outcome' => outcome.to_s }
    end
  end
  missing = []
  doc = interpolate_vars(doc, load_yaml(vars_path), missing)
  { 'manifest' => doc, 'ops' => outcomes, 'missing_vars' => missing.uniq.sort }
end

# ---------------------------------------------------------------------------- main

begin
  case ARGV[0]
  when 'spec'
    puts JSON.generate(load_yaml(File.join(ARGV[1], 'spec')))
  when 'render'
    render(ARGV[1], ARGV[2], ARGV[3])
  when 'interpolate'
    puts JSON.generate(interpolate(ARGV[1], ARGV[2], ARGV[3..]))
  else
    warn 'usage: bosh_tool.rb spec|render|interpolate ...'
    exit 2
  end
rescue OpError, UnknownProperty, RuntimeError, KeyError => e
  warn "#{e.class}: #{e.message}"
  exit 1
end
