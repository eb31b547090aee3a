pub mod {{snake}}_module;
