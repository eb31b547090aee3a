pub mod {{snake}}_workflow;
